"""Signing in and out of the web workspace, the session cookie, CSRF and revocation."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

from server.auth import KeyStore, TokenVerifier
from server.services import admin
from server.services.workspace import Workspace
from server.web import WebConfig
from server.web.context import WebState
from server.web.session import SECURE_COOKIE
from tests.server.helpers import World, create_case
from tests.server.testclient import TestClient
from tests.web.conftest import CSRF_FIELD, SESSION_KEY, NewBrowser, web_app


def _set_cookie(answer: object, name: str) -> SimpleCookie:
    headers = answer.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    for header in headers:
        if header.startswith(name + "="):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            return jar
    raise AssertionError(f"no {name} cookie in {headers}")


def test_sign_in_keeps_the_token_in_an_httponly_strict_cookie_ending_with_it(
    new_browser: NewBrowser, world: World
) -> None:
    browser = new_browser()
    csrf = browser.csrf()
    claims = world.claims("NL", "investigator")
    token = world.sign(claims, key_of="NL")
    answer = browser.client.post(
        "/sign-in", data={"token": token, "csrf": csrf, "next": "/cases"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/cases"
    morsel = _set_cookie(answer, "jitc-session")["jitc-session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain HTTP here (see the TLS test below)
    assert 0 < int(morsel["max-age"]) <= claims["exp"] - int(time.time()) + 1
    assert token not in morsel.value  # sealed: the cookie does not carry the token readably
    page = browser.client.get("/cases")
    assert page.status_code == 200
    assert "investigator-nl" in page.text


def test_the_cookie_is_secure_under_tls_and_behind_a_trusted_proxy(
    workspace: Workspace, world: World
) -> None:
    token = world.token("NL", "prosecutor")

    def sign_in(client: TestClient, headers: dict[str, str]) -> object:
        page = client.get("/sign-in", headers=headers)
        found = CSRF_FIELD.search(page.text)
        assert found is not None
        return client.post(
            "/sign-in",
            data={"token": token, "csrf": found[1], "next": "/cases"},
            headers=headers,
            follow_redirects=False,
        )

    with TestClient(web_app(workspace), base_url="https://jitc.example") as client:
        answer = sign_in(client, {})
        morsel = _set_cookie(answer, SECURE_COOKIE)[SECURE_COOKIE]
        assert morsel["secure"] is True
        assert morsel["httponly"] is True
        assert morsel["samesite"].lower() == "strict"

    proxied = web_app(workspace)
    state: WebState = proxied.state.web
    proxied.state.web = WebState(
        WebConfig(session_key=SESSION_KEY, trusted_proxies=frozenset({"testclient"})),
        state.codec,
        state.methods,
    )
    forwarded = {"X-Forwarded-Proto": "https"}
    with TestClient(proxied, base_url="http://jitc.example") as client:
        answer = sign_in(client, forwarded)
        assert _set_cookie(answer, SECURE_COOKIE)[SECURE_COOKIE]["secure"] is True
    # The same header from a client that is not a trusted proxy is not believed.
    with TestClient(web_app(workspace), base_url="http://jitc.example") as client:
        answer = sign_in(client, forwarded)
        assert not _set_cookie(answer, "jitc-session")["jitc-session"]["secure"]


def test_a_forged_token_is_refused_with_the_reason(new_browser: NewBrowser, world: World) -> None:
    browser = new_browser()
    forged = world.sign(world.claims("NL", "prosecutor"), key_of="DE", kid=world.kid("NL"))
    answer = browser.client.post(
        "/sign-in", data={"token": forged, "csrf": browser.csrf()}, follow_redirects=False
    )
    assert answer.status_code == 400
    assert "signature does not verify" in answer.text
    after = browser.client.get("/cases", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"].startswith("/sign-in")


def test_a_token_file_signs_in_as_well(new_browser: NewBrowser, world: World) -> None:
    browser = new_browser()
    token = world.token("FR", "technician")
    answer = browser.client.post(
        "/sign-in",
        data={"csrf": browser.csrf(), "next": "/cases", "token": ""},
        files={"token_file": ("fr.jwt", (token + "\n").encode(), "text/plain")},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "technician-fr" in browser.client.get("/cases").text


def test_sign_out_ends_the_session(new_browser: NewBrowser, world: World) -> None:
    browser = new_browser()
    browser.sign_in(world.token("NL", "prosecutor"))
    answer = browser.post("/sign-out", {}, page="/cases")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    after = browser.client.get("/cases", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"] == "/sign-in?next=/cases"


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    new_browser: NewBrowser, world: World
) -> None:
    browser = new_browser()
    browser.sign_in(world.token("NL", "prosecutor"))
    form = {"title": "Forged", "agreement": "", "parties": ["NL"]}
    answer = browser.client.post("/cases", data=form, follow_redirects=False)
    assert answer.status_code == 403
    assert "did not come from a page of this workspace" in answer.text
    wrong = browser.client.post("/cases", data={**form, "csrf": "x" * 43}, follow_redirects=False)
    assert wrong.status_code == 403
    # The right token from another site's page (Origin, Fetch Metadata) is refused too.
    token = browser.csrf("/cases/new")
    cross = browser.client.post(
        "/cases",
        data={**form, "csrf": token},
        headers={"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert cross.status_code == 403
    listed = browser.client.get("/api/cases", headers=world.headers("NL", "prosecutor"))
    assert listed.json()["items"] == []
    # And with the token, from this origin, the same form works.
    ok = browser.client.post(
        "/cases",
        data={**form, "csrf": token},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_the_csrf_token_before_sign_in_is_no_use_after_it(
    new_browser: NewBrowser, world: World
) -> None:
    browser = new_browser()
    before = browser.csrf()
    browser.sign_in(world.token("NL", "prosecutor"))
    answer = browser.client.post(
        "/cases",
        data={"title": "T", "parties": ["NL"], "csrf": before},
        follow_redirects=False,
    )
    assert answer.status_code == 403


def test_revoking_the_jti_signs_the_holder_out_at_once(
    new_browser: NewBrowser, world: World, workspace: Workspace
) -> None:
    browser = new_browser()
    claims = world.claims("NL", "prosecutor")
    browser.sign_in(world.sign(claims, key_of="NL"))
    assert browser.client.get("/cases").status_code == 200
    assert admin.revoke_token(workspace.engine, claims["jti"])
    answer = browser.client.get("/cases", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/cases"
    page = browser.client.get(answer.headers["location"])
    assert "the token was revoked" in page.text
    # Signed out for good: the cookie now holds no sign-in.
    assert browser.client.get("/cases", follow_redirects=False).status_code == 303


def test_an_expired_sign_in_goes_back_to_the_sign_in_page(
    new_browser: NewBrowser, world: World, workspace: Workspace
) -> None:
    now = [time.time()]
    workspace.verifier = TokenVerifier(
        audience=workspace.settings.log_name,
        keys=KeyStore(workspace.engine),
        is_revoked=lambda _jti: False,
        clock=lambda: now[0],
    )
    browser = new_browser()
    browser.sign_in(world.token("NL", "investigator"))
    case_id = create_case(browser.client, world, parties=("NL",))
    assert browser.client.get(f"/cases/{case_id}").status_code == 200
    now[0] += 3600 + 120  # past exp and the 60 s of allowed skew
    answer = browser.client.get(f"/cases/{case_id}?tab=x", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/sign-in?next=/cases/{case_id}%3Ftab%3Dx"
    page = browser.client.get(answer.headers["location"])
    assert "the token has expired" in page.text
    assert 'name="next" value="/cases/' in page.text


def test_sign_in_goes_back_only_to_a_local_page(new_browser: NewBrowser, world: World) -> None:
    browser = new_browser()
    for target in ("//attacker.example/x", "https://attacker.example", "/\\attacker.example"):
        answer = browser.client.post(
            "/sign-in",
            data={"token": world.token("NL", "prosecutor"), "csrf": browser.csrf(), "next": target},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/cases"
