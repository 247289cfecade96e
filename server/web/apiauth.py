"""The API's second door for the workspace's own pages: the session cookie.

Browser scripts never see the token (the cookie is HttpOnly), so the tus upload on the
exhibit page cannot send `Authorization: Bearer`. It sends the session cookie instead,
and this authenticator turns that into the session's token for the API's usual
verification (`Workspace.authenticate`: signature, expiry, revocation), when, and only
when, the request proves it comes from a page of this workspace:

- the cookie opens (sealed by this server) and holds a token sign-in;
- `X-CSRF-Token` equals the session's CSRF token (a cross-site page can neither read it
  nor, without a CORS preflight this server never allows, send a custom header);
- Sec-Fetch-Site, when sent, is `same-origin`, and Origin, when sent, is ours.

A request with an Authorization header never reaches here (bearer first). A cookie
without the header is no credential at all (the API answers 401 as before), so a link
followed to an API URL can neither read nor change anything with the session; a header
that is present but wrong is refused outright (403, security log).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from server.errors import PermissionDeniedError
from server.web.context import CSRF_HEADER, WebState, cookie_name
from server.web.security import is_secure, own_origin
from server.web.signin import StateToken


def session_token(conn: HTTPConnection) -> str | None:
    """The token of the web session making this API request, or None (no session, or the
    request did not come from a workspace page: no CSRF header)."""
    state: WebState | None = getattr(conn.app.state, "web", None)
    if state is None:
        return None
    secure = is_secure(conn, state.config.trusted_proxies)
    session = state.codec.open(conn.cookies.get(cookie_name(secure=secure)))
    if session is None or not session.signed_in:
        return None
    presented = conn.headers.get(CSRF_HEADER)
    if presented is None:
        return None
    site = conn.headers.get("sec-fetch-site")
    origin = conn.headers.get("origin")
    if (
        not state.codec.csrf_ok(session, presented)
        or (site is not None and site != "same-origin")
        or (origin is not None and origin.lower() != own_origin(conn, secure=secure))
    ):
        raise PermissionDeniedError(
            "this request carries a workspace session but did not come from its pages",
            code="csrf_failed",
        )
    if session.method != StateToken.name:
        return None  # other sign-in methods hold no API token
    return session.credential
