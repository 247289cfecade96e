"""The workspace's pages: each parses its input, re-verifies the sign-in and calls the
same service functions as the API (so the same permissions apply and the same custody
entries are written), then renders a template or redirects (POST, then 303, then GET).

Form values are parsed by the API's own parsers (server.api.schemas) wherever one exists:
one set of input rules for both doors.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.api import schemas
from server.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)
from server.services import cases, witnessing
from server.web import views
from server.web.context import SignedOut, Web, log_sign_in, page, remote_of, safe_next
from server.web.exhibit_pages import (
    _hold_action,
    dispose,
    download_content,
    exhibit_page,
    new_exhibit_form,
    register_exhibit,
    revoke_share,
    seal_exhibit,
    share,
    verify_content,
)
from server.web.pagekit import act, case_id_of, case_url
from server.web.record_pages import (
    add_note,
    create_export,
    download_bundle,
    entry_page,
    export_page,
    exports_page,
    licenses,
    log_page,
    notes,
    proof_json,
    verify_help,
)
from server.web.session import Session
from server.web.signin import MAX_TOKEN_CHARS, StateToken, token_from_form

# --- signing in and out ----------------------------------------------------------------


@page
async def home(web: Web) -> Response:
    return web.redirect("/cases" if web.session.signed_in else "/sign-in")


@page
async def sign_in_form(web: Web) -> Response:
    if await web.identify() is not None:
        return web.redirect(safe_next(web.request.query_params.get("next")))
    return web.page(
        "sign_in.html", next=safe_next(web.request.query_params.get("next")), problem=None
    )


@page
async def sign_in(web: Web) -> Response:
    target = safe_next(await web.field("next"))
    token = token_from_form(await web.field("token"), await web.file_bytes("token_file"))
    problem = None
    if not token:
        problem = "token_missing"
    elif len(token) > MAX_TOKEN_CHARS:
        problem = "token_too_long"
    if problem is None:
        method = StateToken()
        try:
            principal = await web.verify(method, token)
        except SignedOut as out:
            problem = out.reason
        else:
            web.set_session(web.session.signed_in_as(method.name, token, principal.expires))
            log_sign_in("web_sign_in", principal, remote_of(web.request))
            return web.redirect(target)
    return web.page("sign_in.html", status=400, next=target, problem=web.refusal_text(problem))


@page
async def sign_out(web: Web) -> Response:
    principal = await web.identify()
    log_sign_in("web_sign_out", principal, remote_of(web.request))
    web.set_session(Session.anonymous())
    web.flash("ok", "signed_out")
    return web.redirect("/sign-in")


# --- cases -------------------------------------------------------------------------------


@page
async def case_list(web: Web) -> Response:
    query = web.request.query_params.get("q", "")[:200]
    found, cut = await web.run(lambda ws, p: views.case_list(ws, p, query))
    assert web.principal is not None
    return web.page(
        "cases.html",
        cases=found,
        q=query,
        cut=cut,
        may_create=views.may_create_case(web.principal),
    )


@page
async def new_case_form(web: Web) -> Response:
    states = await web.run(lambda ws, _p: views.jurisdictions(ws))
    assert web.principal is not None
    if not views.may_create_case(web.principal):
        return web.error(403, "forbidden")
    return web.page("case_new.html", states=states, values={}, problem=None)


@page
async def create_case(web: Web) -> Response:
    values = {
        "title": await web.field("title"),
        "agreement": await web.field("agreement"),
        "parties": await web.fields("parties"),
    }
    try:
        created = await web.run(
            lambda ws, p: cases.create_case(ws, p, schemas.new_case(dict(values)))
        )
    except (InvalidRequestError, ConflictError) as exc:
        states = await web.run(lambda ws, _p: views.jurisdictions(ws))
        problem = web.refusal_text(exc.code, exc.message)
        return web.page("case_new.html", status=400, states=states, values=values, problem=problem)
    web.flash("ok", "case_created")
    return web.redirect(case_url(created.id))


@page
async def case_page(web: Web) -> Response:
    case_id = case_id_of(web)
    cursor = web.request.query_params.get("cursor")
    view = await web.run(lambda ws, p: views.case_page(ws, p, case_id, cursor))
    return web.page("case.html", view=view, case=view.detail)


@page
async def add_party(web: Web) -> Response:
    case_id = case_id_of(web)
    body = {"jurisdiction": await web.field("jurisdiction")}
    return await act(
        web,
        lambda ws, p: cases.propose_party(ws, p, case_id, schemas.party(body)),
        _party_outcome,
        case_url(case_id),
    )


def _party_outcome(outcome: object) -> str:
    """A proposal joins at once in a one-party case, else once every party consented."""
    assert isinstance(outcome, cases.PartyOutcome)
    return "party_added" if outcome.added is not None else "party_proposed"


@page
async def approve_party(web: Web) -> Response:
    case_id = case_id_of(web)
    raw = web.request.path_params["seq"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFoundError("no such proposal", code="proposal_not_found")
    seq = int(raw)

    def outcome(done: object) -> str:
        return "party_added" if _party_outcome(done) == "party_added" else "party_approved"

    return await act(
        web,
        lambda ws, p: cases.approve_party(ws, p, case_id, seq),
        outcome,
        case_url(case_id),
    )


@page
async def remove_party(web: Web) -> Response:
    case_id = case_id_of(web)
    code = await web.field("jurisdiction")
    return await act(
        web,
        lambda ws, p: cases.remove_party(ws, p, case_id, schemas.jurisdiction_code(code)),
        "party_removed",
        case_url(case_id),
    )


async def _grant_body(web: Web, *, scope: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jurisdiction": await web.field("jurisdiction"),
        "sub": await web.field("sub"),
        "role": await web.field("role"),
    }
    if scope:
        # No exhibit ticked: the grant discloses every exhibit the state may read.
        body["exhibits"] = await web.fields("exhibits") or None
    return body


@page
async def grant_access(web: Web) -> Response:
    case_id = case_id_of(web)
    body = await _grant_body(web, scope=True)
    return await act(
        web,
        lambda ws, p: cases.grant_access(ws, p, case_id, schemas.grant(body)),
        "access_granted",
        case_url(case_id),
    )


@page
async def revoke_access(web: Web) -> Response:
    case_id = case_id_of(web)
    body = await _grant_body(web)
    return await act(
        web,
        lambda ws, p: cases.revoke_access(ws, p, case_id, schemas.grant(body)),
        "access_revoked",
        case_url(case_id),
    )


def _quorum(raw: str) -> int | None:
    if raw == "all":
        return None
    value = schemas.non_negative(raw.strip(), "quorum")
    if value is None:
        raise InvalidRequestError("choose a quorum", code="bad_quorum")
    return value


@page
async def set_policy(web: Web) -> Response:
    case_id = case_id_of(web)
    raw = await web.field("quorum")
    return await act(
        web,
        lambda ws, p: witnessing.set_quorum(ws, p, case_id, _quorum(raw)),
        "quorum_set",
        case_url(case_id),
    )


CASE: Final = "/cases/{case_id}"
EXHIBIT: Final = CASE + "/exhibits/{exhibit_id}"


def page_routes() -> list[BaseRoute]:
    def get(path: str, endpoint: Any) -> Route:
        return Route(path, endpoint, methods=["GET"], include_in_schema=False)

    def post(path: str, endpoint: Any) -> Route:
        return Route(path, endpoint, methods=["POST"], include_in_schema=False)

    return [
        get("/", home),
        get("/sign-in", sign_in_form),
        post("/sign-in", sign_in),
        post("/sign-out", sign_out),
        get("/cases", case_list),
        get("/cases/new", new_case_form),
        post("/cases", create_case),
        get(CASE, case_page),
        post(CASE + "/parties", add_party),
        post(CASE + "/parties/remove", remove_party),
        post(CASE + "/parties/proposals/{seq}/approve", approve_party),
        post(CASE + "/grants", grant_access),
        post(CASE + "/grants/revoke", revoke_access),
        post(CASE + "/policy", set_policy),
        get(CASE + "/exhibits/new", new_exhibit_form),
        post(CASE + "/exhibits", register_exhibit),
        get(EXHIBIT, exhibit_page),
        post(EXHIBIT + "/seal", seal_exhibit),
        post(EXHIBIT + "/hold", page(_hold_action(hold=True))),
        post(EXHIBIT + "/hold/release", page(_hold_action(hold=False))),
        post(EXHIBIT + "/verify", verify_content),
        post(EXHIBIT + "/dispose", dispose),
        post(EXHIBIT + "/shares", share),
        post(EXHIBIT + "/shares/revoke", revoke_share),
        post(EXHIBIT + "/content", download_content),
        get(CASE + "/notes", notes),
        post(CASE + "/notes", add_note),
        get(CASE + "/log", log_page),
        get(CASE + "/log/{seq}", entry_page),
        get(CASE + "/log/{seq}/proof.json", proof_json),
        get(CASE + "/exports", exports_page),
        post(CASE + "/exports", create_export),
        get(CASE + "/exports/{export_id}", export_page),
        post(CASE + "/exports/{export_id}/bundle", download_bundle),
        get("/verify-bundle", verify_help),
        get("/licenses", licenses),
    ]
