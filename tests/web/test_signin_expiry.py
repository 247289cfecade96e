"""A sign-in that ended in a real browser: the cookie is gone, not merely stale.

The session cookie's Max-Age ends with the token (server.web.context.Web.finish), so at
the token's `exp` the browser deletes it. A form the user then sends (a registration typed
across the expiry, or Sign out itself) arrives with its page's CSRF token but no session.
Nothing can change without a sign-in, so the answer must be the sign-in page, as for a
page asked for after the expiry, not a 403 saying the form did not come from this
workspace.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.applications import Starlette

from server.services import admin
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case
from tests.server.testclient import TestClient
from tests.web.conftest import NewBrowser
from tests.web.test_security import INLINE_HANDLER


def test_a_form_sent_after_the_cookie_expired_goes_back_to_the_sign_in_page(
    new_browser: NewBrowser, world: World
) -> None:
    browser = new_browser()
    browser.sign_in(world.token("NL", "prosecutor"))
    csrf = browser.csrf("/cases/new")
    browser.client.cookies.clear()  # what the browser does at the cookie's Max-Age
    answer = browser.client.post(
        "/cases",
        data={"title": "Typed across the expiry", "parties": ["NL"], "csrf": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    assert answer.headers["location"].startswith("/sign-in")
    listed = browser.client.get("/api/cases", headers=world.headers("NL", "prosecutor"))
    assert listed.json()["items"] == []  # and nothing was made


def test_sign_out_after_the_cookie_expired_goes_to_the_sign_in_page(
    new_browser: NewBrowser, world: World
) -> None:
    browser = new_browser()
    browser.sign_in(world.token("NL", "prosecutor"))
    csrf = browser.csrf("/cases")
    browser.client.cookies.clear()
    answer = browser.client.post("/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    assert answer.headers["location"].startswith("/sign-in")


def test_after_signing_in_again_a_refused_form_leads_back_to_a_page(
    new_browser: NewBrowser, world: World, workspace: Workspace
) -> None:
    """A form sent after the token was revoked (or expired, cookie still there) goes to
    the sign-in page with `next` = the address the form posted to. Most of those are
    POST-only (…/policy, …/seal, …/hold, …/shares): signing in again then lands on 405."""
    browser = new_browser()
    claims = world.claims("NL", "prosecutor")
    browser.sign_in(world.sign(claims, key_of="NL"))
    case_id = create_case(browser.client, world, parties=("NL",))
    csrf = browser.csrf(f"/cases/{case_id}")
    assert admin.revoke_token(workspace.engine, claims["jti"])
    answer = browser.client.post(
        f"/cases/{case_id}/policy", data={"quorum": "all", "csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/sign-in?next=")
    target = unquote(location.split("next=", 1)[1])
    browser.sign_in(world.token("NL", "prosecutor"), next_path=target)
    landed = browser.client.get(target, follow_redirects=True)
    assert landed.status_code == 200, (target, landed.status_code, landed.text[:200])


def test_a_link_followed_from_another_site_does_not_sign_the_user_out(
    app: Starlette, new_browser: NewBrowser, world: World
) -> None:
    """SameSite=Strict keeps the session cookie off a top-level navigation from another
    site (a link in a mail, a chat, another agency's portal). The server then sees no
    session and answers with a fresh anonymous one in Set-Cookie; browsers accept a
    Strict cookie set by a top-level navigation's response (RFC 6265bis 5.7), so it
    replaces the signed-in cookie: every cross-site link signs the user out, and any site
    can end a user's sign-in (and with it a browser upload in another tab)."""
    browser = new_browser()
    browser.sign_in(world.token("NL", "prosecutor"))
    with TestClient(app, base_url="http://testserver") as outside:  # no cookie sent
        followed = outside.get(
            "/cases",
            headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
            follow_redirects=False,
        )
    replaced = [h for h in followed.headers.get_list("set-cookie") if h.startswith("jitc-session=")]
    assert replaced == [], replaced


def test_the_inline_handler_guard_catches_a_handler_after_one_space() -> None:
    """tests/web/test_security.py's guard against inline event handlers (CSP: no inline
    script) reads `\\s on[a-z]+=`: a whitespace AND a space, so the usual spelling of a
    handler, one space before it, passes unseen."""
    assert INLINE_HANDLER.search('<button onclick="go()">')
    assert INLINE_HANDLER.search('<a href="/x" onmouseover="go()">')


def test_a_form_posted_from_another_site_does_not_sign_the_user_out(
    app: Starlette, world: World
) -> None:
    """The same through a form another site posts to the workspace: refused, and its
    answer sets no cookie either (it would replace the one the browser withheld)."""
    with TestClient(app, base_url="http://testserver") as outside:
        posted = outside.post(
            "/sign-out",
            data={"csrf": "x"},
            headers={"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
            follow_redirects=False,
        )
    assert posted.status_code == 403
    assert posted.headers.get_list("set-cookie") == []


def test_a_cross_site_link_is_loaded_again_from_the_workspace_itself(
    app: Starlette, world: World
) -> None:
    """The answer to the cross-site navigation: the same address again, from here."""
    with TestClient(app, base_url="http://testserver") as outside:
        followed = outside.get(
            "/cases/abc?state=stored",
            headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
            follow_redirects=False,
        )
        again = outside.get(
            "/cases",
            headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"},
            follow_redirects=False,
        )
    assert followed.status_code == 200
    assert '<meta http-equiv="refresh" content="0;url=/cases/abc?state=stored">' in followed.text
    assert "<script" not in followed.text
    assert again.status_code == 303  # the reload is an ordinary request: not signed in here
    assert again.headers["location"].startswith("/sign-in")
