"""One web request: its session, language, the signed-in principal, and how it answers.

`page(handler)` wraps every page: it opens the session, checks unsafe requests (origin
and CSRF token) before the handler reads anything, re-verifies the sign-in when the
handler asks for the principal, and turns refusals into pages: a sign-in that ended goes
back to the sign-in page, 403 and 404 become error pages in the user's language.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import anyio.to_thread
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from custody.errors import CustodyError
from server.auth import Principal
from server.errors import (
    AuthenticationError,
    BusyError,
    InsufficientStorageError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    StorageError,
)
from server.services.workspace import Workspace
from server.web import messages
from server.web.config import WebConfig
from server.web.i18n import (
    LANG_COOKIE,
    Formats,
    chosen_locale,
    parse_time,
    translations,
    user_zone,
)
from server.web.security import BASE_CSP, is_secure, own_origin, same_origin
from server.web.session import COOKIE, SECURE_COOKIE, Flash, Session, SessionCodec
from server.web.signin import SignInMethod
from server.web.templating import render

T = TypeVar("T")
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "x-csrf-token"
MAX_FORM_FILE: Final = 64 * 1024  # a token file is a few hundred bytes
LANG_COOKIE_SECONDS: Final = 365 * 24 * 3600
SIGN_IN_PATH: Final = "/sign-in"
# A page behind a form's POST-only address: the case or the exhibit it acts on.
_ENCLOSING_PAGE: Final = re.compile(r"^/cases/[^/?#]+(?:/exhibits/[^/?#]+)?")

security_log = logging.getLogger("jitc.security")


@dataclass(eq=False)
class WebState:
    """What the web workspace needs, kept on `app.state.web` (server.web.mount_web)."""

    config: WebConfig
    codec: SessionCodec
    methods: Mapping[str, SignInMethod]


class SignedOut(Exception):  # noqa: N818 - a state the user is in, not a failure
    """The request needs a sign-in and has none, or its credential no longer verifies."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FormRefused(Exception):  # noqa: N818 - answered as a page, never raised out
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def cookie_name(*, secure: bool) -> str:
    return SECURE_COOKIE if secure else COOKIE


def remote_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def safe_next(target: str | None) -> str:
    """A local path to go back to after signing in (never another site: open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/cases"
    if any(ord(c) < 0x21 for c in target):
        return "/cases"
    return target


class Web:
    """The request as the page handlers see it."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.state: WebState = request.app.state.web
        self.ws: Workspace = request.app.state.workspace
        self.secure = is_secure(request, self.state.config.trusted_proxies)
        opened = self.state.codec.open(request.cookies.get(cookie_name(secure=self.secure)))
        self.session = opened or Session.anonymous()
        self.had_session = opened is not None
        self._session_changed = opened is None
        # A request from another site carries no SameSite=Strict cookie, whatever the
        # browser holds: its answer must never set one, or it would replace the user's
        # sign-in (any site could sign a user out with a link or a form).
        self.cross_site = request.headers.get("sec-fetch-site") == "cross-site"
        self.locale, self._remember_locale = chosen_locale(request)
        self.formats = Formats(self.locale, user_zone(request))
        self.principal: Principal | None = None
        self.csp = BASE_CSP
        self._form: FormData | None = None

    # --- words -----------------------------------------------------------------------

    def gettext(self, message: str) -> str:
        return translations(self.locale).gettext(message)

    def refusal_text(self, code: str, detail: str = "") -> str:
        known = messages.REFUSED.get(code) or messages.SIGN_IN.get(code)
        if known is not None:
            return self.gettext(known)
        return self.gettext(messages.GENERIC_REFUSAL) + (f" {detail}" if detail else "")

    # --- the session -------------------------------------------------------------------

    @property
    def csrf(self) -> str:
        return self.state.codec.csrf_token(self.session)

    def set_session(self, session: Session) -> None:
        self.session = session
        self._session_changed = True

    def flash(self, kind: str, key: str, detail: str = "") -> None:
        self.set_session(self.session.with_flash(Flash(kind, key, detail)))

    def _take_flash(self) -> list[tuple[str, str]]:
        shown: list[tuple[str, str]] = []
        for item in self.session.flash:
            if item.kind == "ok":
                shown.append(("ok", self.gettext(messages.DONE.get(item.key, item.key))))
            else:
                shown.append(("error", self.refusal_text(item.key, item.detail)))
        if self.session.flash:
            self.set_session(self.session.without_flash())
        return shown

    def lang_url(self, code: str) -> str:
        """This page in another language (the choice is remembered in a cookie)."""
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        params.append(("lang", code))
        return f"{self.request.url.path}?{urlencode(params)}"

    # --- unsafe requests ---------------------------------------------------------------

    async def check_unsafe(self) -> None:
        """Origin, size and CSRF token of a POST, before any handler reads it."""
        if not same_origin(self.request, secure=self.secure):
            raise FormRefused(403, "csrf_failed")
        if not self.had_session and self.request.url.path != SIGN_IN_PATH:
            # The sign-in ended and the browser dropped its cookie (Max-Age = the token's
            # exp): nothing can change without one, so this is the sign-in page's case,
            # not a forged form. Only the sign-in form works without a session.
            raise SignedOut("signed_out")
        declared = self.request.headers.get("content-length")
        if declared is None or not declared.isdigit():
            raise FormRefused(411, "length_required")
        if int(declared) > self.ws.settings.max_json_body:
            raise FormRefused(413, "payload_too_large")
        form = await self.form()
        presented = form.get(CSRF_FIELD)
        if not isinstance(presented, str):
            presented = self.request.headers.get(CSRF_HEADER)
        if not self.state.codec.csrf_ok(self.session, presented):
            raise FormRefused(403, "csrf_failed")

    async def form(self) -> FormData:
        if self._form is None:
            self._form = await self.request.form(
                max_files=1, max_fields=300, max_part_size=self.ws.settings.max_json_body
            )
        return self._form

    async def close(self) -> None:
        """Close the form's spooled files (a token file)."""
        if self._form is not None:
            await self._form.close()

    async def field(self, name: str) -> str:
        value = (await self.form()).get(name)
        return value if isinstance(value, str) else ""

    async def fields(self, name: str) -> list[str]:
        return [v for v in (await self.form()).getlist(name) if isinstance(v, str)]

    async def file_bytes(self, name: str) -> bytes | None:
        value = (await self.form()).get(name)
        if not isinstance(value, UploadFile) or not value.filename:
            return None
        return await value.read(MAX_FORM_FILE)

    # --- the principal -----------------------------------------------------------------

    async def run(self, work: Callable[[Workspace, Principal], T]) -> T:
        """Re-verify the sign-in and run `work` on a worker thread: one hop per request for
        both (ADR 0002). A credential that no longer verifies raises SignedOut."""
        session = self.session
        method = self.state.methods.get(session.method or "")
        if not session.signed_in or method is None or session.credential is None:
            raise SignedOut("signed_out")
        return await self._verified(method, session.credential, work)

    async def verify(self, method: SignInMethod, credential: str) -> Principal:
        """Verify a credential being signed in with (SignedOut says why it is refused)."""
        return await self._verified(method, credential, lambda _ws, p: p)

    async def _verified(
        self, method: SignInMethod, credential: str, work: Callable[[Workspace, Principal], T]
    ) -> T:
        remote = remote_of(self.request)
        ws = self.ws

        def call() -> tuple[Principal, T]:
            try:
                principal = method.verify(ws, credential, remote=remote)
            except AuthenticationError as error:
                raise SignedOut(error.code) from None
            return principal, work(ws, principal)

        principal, result = await anyio.to_thread.run_sync(
            call, limiter=self.request.app.state.limiter
        )
        self.principal = principal
        return result

    async def identify(self) -> Principal | None:
        """The principal if the user is signed in (pages anyone may see)."""
        if not self.session.signed_in:
            return None
        try:
            return await self.run(lambda _ws, p: p)
        except SignedOut:
            self.set_session(Session.anonymous())
            return None

    # --- answers -----------------------------------------------------------------------

    def page(self, template: str, *, status: int = 200, **context: Any) -> Response:
        values = {
            "web": self,
            "principal": self.principal,
            "csrf": self.csrf,
            "locale": self.locale,
            "fmt": self.formats,
            "fmt_time": parse_time,
            "flash": self._take_flash(),
            "path": self.request.url.path,
            "query": str(self.request.url.query),
            **context,
        }
        body = render(self.locale, template, values)
        response = HTMLResponse(body, status_code=status)
        response.headers["Content-Security-Policy"] = self.csp
        return response

    def redirect(self, url: str) -> Response:
        if self.request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    def error(self, status: int, code: str, detail: str = "") -> Response:
        return self.page(
            "error.html", status=status, code=code, message=self.refusal_text(code, detail)
        )

    def _address(self) -> str:
        """This request's path and query, to come back to."""
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    def signed_out(self, reason: str) -> Response:
        self.set_session(Session.anonymous().with_flash(Flash("error", reason)))
        if self.request.method in SAFE_METHODS:
            target = self._address()
        else:
            target = self._page_behind_form()
        return self.redirect(f"{SIGN_IN_PATH}?next={quote(safe_next(target), safe='/')}")

    def _page_behind_form(self) -> str:
        """Where to go back to after signing in again when a form was refused: its
        address is POST-only (…/seal, …/policy), so the page it was sent from (a
        same-origin Referer), else the case or exhibit it acts on."""
        referer = self.request.headers.get("referer")
        if referer:
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}".lower()
            if origin == own_origin(self.request, secure=self.secure) and parts.path:
                return parts.path + (f"?{parts.query}" if parts.query else "")
        enclosing = _ENCLOSING_PAGE.match(self.request.url.path)
        return enclosing.group(0) if enclosing else "/cases"

    def bounce(self) -> Response:
        """A page opened by a link on another site arrives without the SameSite=Strict
        cookie: load it again from here (a same-origin navigation, which carries it). A
        meta refresh, not script (CSP), with a link for a browser that does not follow it."""
        href = html.escape(safe_next(self._address()), quote=True)
        body = (
            '<!doctype html><html><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0;url={href}">'
            f'<title>JIT Custody</title></head><body><p><a href="{href}">JIT Custody</a>'
            "</p></body></html>"
        )
        response = HTMLResponse(body)
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def finish(self, response: Response) -> Response:
        """Write the session (and a chosen language) back; pages are never cached."""
        if self.cross_site and not self.had_session:
            # never over the cookie the browser withheld (see __init__)
            self._session_changed = self._remember_locale = False
        if self._session_changed:
            name = cookie_name(secure=self.secure)
            max_age = None
            if self.session.signed_in and self.session.expires is not None:
                max_age = max(0, self.session.expires - int(time.time()))
            response.set_cookie(
                name,
                self.state.codec.seal(self.session),
                max_age=max_age,
                path="/",
                secure=self.secure,
                httponly=True,
                samesite="strict",
            )
        if self._remember_locale:
            response.set_cookie(
                LANG_COOKIE,
                self.locale,
                max_age=LANG_COOKIE_SECONDS,
                path="/",
                secure=self.secure,
                httponly=True,
                samesite="strict",
            )
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["Vary"] = "Cookie, Accept-Language"
        return response


def log_sign_in(event: str, principal: Principal | None, remote: str | None) -> None:
    """Sign-ins and sign-outs go to the security log (never to a custody log)."""
    record: dict[str, object] = {"event": event, "remote": remote}
    if principal is not None:
        record |= {
            "jurisdiction": principal.jurisdiction,
            "sub": principal.sub,
            "role": principal.role,
            "jti": principal.jti,
        }
    security_log.info(json.dumps(record, sort_keys=True))


Handler = Callable[[Web], Awaitable[Response]]


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        web = Web(request)
        if web.cross_site and not web.had_session and request.method in ("GET", "HEAD"):
            return web.bounce()
        try:
            if request.method not in SAFE_METHODS:
                await web.check_unsafe()
            response = await handler(web)
        except SignedOut as out:
            response = web.signed_out(out.reason)
        except FormRefused as refused:
            response = web.error(refused.status, refused.code)
        except PermissionDeniedError as exc:
            _log_refusal(request, exc)
            response = web.error(403, exc.code, exc.message)
        except NotFoundError as exc:
            response = web.error(404, exc.code, exc.message)
        except (BusyError, StorageError, InsufficientStorageError) as exc:
            response = web.error(503, exc.code, exc.message)
        except ServerError as exc:
            response = web.error(400, exc.code, exc.message)
        except CustodyError:
            logging.getLogger("jitc.web").exception("custody library refused a page")
            response = web.error(500, "custody_error")
        finally:
            await web.close()
        return web.finish(response)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _log_refusal(request: Request, exc: PermissionDeniedError) -> None:
    # The same record the API writes for a 403 (server.api.errors.log_permission_refusal).
    who = exc.who or ("", "", "", "")
    record = {
        "event": "permission_refused",
        "reason": exc.code,
        "action": exc.action,
        "jurisdiction": who[0],
        "sub": who[1],
        "role": who[2],
        "jti": who[3],
        "method": request.method,
        "path": request.url.path,
        "remote": request.client.host if request.client else None,
    }
    security_log.warning(json.dumps(record, sort_keys=True))
