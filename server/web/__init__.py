"""The web workspace: server-rendered pages over the same services as the API.

The app mounts it with `mount_web(app, workspace)`, which also hands the API its session
door (`app.state.session_door` = `session_token`, server.web.apiauth): the API accepts the
workspace's session for calls from its own pages without importing any page code.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from server.services.workspace import Workspace
from server.web.apiauth import session_token
from server.web.assets import Static, verify_page
from server.web.config import WebConfig
from server.web.context import Web, WebState, page
from server.web.pages import page_routes
from server.web.security import SecurityHeaders
from server.web.session import SessionCodec
from server.web.signin import METHODS

__all__ = ["SecurityHeaders", "WebConfig", "mount_web", "session_token", "web_routes"]


@page
async def offline_verifier(web: Web) -> Response:
    """verify.html, for a recipient to save and open offline (built by web/verifier)."""
    found = verify_page()
    if found is None:
        return web.error(404, "not_found")
    body, csp = found
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": csp, "Cache-Control": "no-cache"},
    )


def web_routes() -> list[BaseRoute]:
    """The pages, /verify and /static (after the API's routes: no path is shared)."""

    return [
        *page_routes(),
        Route("/verify", offline_verifier, methods=["GET"], include_in_schema=False),
        Mount("/static", app=Static(), name="static"),
    ]


def mount_web(app: Starlette, ws: Workspace, *, config: WebConfig | None = None) -> None:
    """Add the workspace's pages to `app` and the security headers to every response.

    Mounting again only replaces the configuration (a test giving its own session key to
    an app that create_app already mounted)."""
    settings = config or WebConfig.for_workspace(ws)
    mounted = getattr(app.state, "web", None) is not None
    app.state.web = WebState(
        config=settings, codec=SessionCodec(settings.session_key), methods=METHODS
    )
    app.state.session_door = session_token
    if mounted:
        return
    app.router.routes.extend(web_routes())
    app.add_middleware(SecurityHeaders)
