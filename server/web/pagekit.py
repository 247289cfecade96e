"""What every page handler shares: ids from the path, page addresses, and running an
action with the refusals a user can mend shown on the page they came from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from starlette.responses import Response

from server.api import schemas
from server.auth import Principal
from server.errors import ConflictError, InvalidRequestError, NotFoundError
from server.services.workspace import Workspace
from server.web.context import Web

CONTENT_CSP: Final = "sandbox; default-src 'none'"
"""Evidence sent to a browser never runs as a page of this origin (an HTML exhibit)."""


def case_id_of(web: Web) -> str:
    return checked_id(web.request.path_params["case_id"], "case_not_found")


def exhibit_id_of(web: Web) -> str:
    return checked_id(web.request.path_params["exhibit_id"], "exhibit_not_found")


def checked_id(value: str, code: str) -> str:
    if schemas.UUID_TEXT.fullmatch(value) is None:
        raise NotFoundError("no such id", code=code)
    return value


def case_url(case_id: str) -> str:
    return f"/cases/{case_id}"


def exhibit_url(case_id: str, exhibit_id: str) -> str:
    return f"/cases/{case_id}/exhibits/{exhibit_id}"


async def act(
    web: Web,
    work: Callable[[Workspace, Principal], object],
    done: str | Callable[[object], str],
    back: str,
) -> Response:
    """Run an action; on a refusal the user can mend (conflict, bad input), go back to
    the page with the reason; 403, 404 and a sign-in that ended are pages of their own.
    `done` names the message, or chooses it from what the action returned."""
    try:
        outcome = await web.run(work)
    except (ConflictError, InvalidRequestError) as exc:
        web.flash("error", exc.code, exc.message)
        return web.redirect(back)
    web.flash("ok", done if isinstance(done, str) else done(outcome))
    return web.redirect(back)
