"""Headers, CSP, static assets and the API's session door."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from server.services.workspace import Workspace
from server.web import WebConfig, assets, mount_web
from server.web.security import BASE_CSP, UPLOAD_CSP
from tests.server.helpers import World, create_case, register_exhibit
from tests.web.conftest import NewBrowser, web_app

TEMPLATES = Path(assets.__file__).parent / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style|\sstyle\s*=", re.IGNORECASE)


def test_no_template_holds_inline_script_or_style() -> None:
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text("utf-8")
        assert not INLINE_SCRIPT.search(text), path.name
        assert not INLINE_HANDLER.search(text), path.name
        assert not INLINE_STYLE.search(text), path.name


def test_pages_carry_a_strict_csp_and_the_other_headers(
    new_browser: NewBrowser, world: World
) -> None:
    browser = new_browser()
    browser.sign_in(world.token("NL", "technician"))
    case_id = create_case(browser.client, world, parties=("NL",))
    exhibit_id = register_exhibit(browser.client, world, case_id)
    for path in ("/sign-in", "/cases", f"/cases/{case_id}"):
        page = browser.client.get(path)
        assert page.headers["content-security-policy"] == BASE_CSP
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert not INLINE_SCRIPT.search(page.text)
        assert not INLINE_STYLE.search(page.text)
        assert not INLINE_HANDLER.search(page.text), path
    exhibit = browser.client.get(f"/cases/{case_id}/exhibits/{exhibit_id}")
    assert exhibit.headers["content-security-policy"] == UPLOAD_CSP
    assert not INLINE_SCRIPT.search(exhibit.text)
    assert not INLINE_HANDLER.search(exhibit.text)
    assert "'wasm-unsafe-eval'" in UPLOAD_CSP
    assert "'unsafe-eval'" not in UPLOAD_CSP
    api = browser.client.get("/api/cases", headers=world.headers("NL", "technician"))
    assert api.headers["content-security-policy"] == BASE_CSP


def test_every_served_asset_is_the_built_one_with_its_licence(new_browser: NewBrowser) -> None:
    manifest = assets.manifest()
    assert {v["package"] for v in manifest["vendored"]} == {
        "htmx.org",
        "tus-js-client",
        "hash-wasm",
    }
    client = new_browser().client
    for name, digest in manifest["files"].items():
        answer = client.get(f"/static/{name}?v={digest[:12]}")
        assert answer.status_code == 200, name
        assert hashlib.sha256(answer.content).hexdigest() == digest, name
        assert "immutable" in answer.headers["cache-control"]
    for item in manifest["vendored"]:
        licence = (assets.STATIC_DIR / item["license_file"]).read_text("utf-8")
        assert item["version"] in licence
        assert "Permission" in licence or "THE SOFTWARE IS PROVIDED" in licence.upper()
    assert client.get("/static/../pages.py").status_code == 404
    assert (
        json.loads((assets.STATIC_DIR / "manifest.json").read_text())["files"] == manifest["files"]
    )


def test_the_offline_verifier_is_served_with_hashes_of_its_own_inline_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_browser: NewBrowser
) -> None:
    client = new_browser().client
    monkeypatch.setattr(assets, "VERIFY_PAGE", tmp_path / "verify.html")
    assets.verify_page.cache_clear()
    assert client.get("/verify").status_code == 404
    script = "document.title = 'ok';"
    (tmp_path / "verify.html").write_text(f"<!doctype html><script>{script}</script><p>v</p>")
    assets.verify_page.cache_clear()
    try:
        answer = client.get("/verify")
        assert answer.status_code == 200
        csp = answer.headers["content-security-policy"]
        digest = hashlib.sha256(script.encode()).digest()
        assert f"'sha256-{base64.b64encode(digest).decode()}'" in csp
        assert "connect-src 'none'" in csp
        assert "unsafe-inline" not in csp
    finally:
        assets.verify_page.cache_clear()


def test_the_api_takes_the_session_only_with_its_csrf_header_from_this_origin(
    new_browser: NewBrowser, world: World
) -> None:
    browser = new_browser()
    browser.sign_in(world.token("NL", "prosecutor"))
    csrf = browser.csrf("/cases")
    # The cookie alone is no credential for the API: a link to it reads nothing.
    assert browser.client.get("/api/cases").status_code == 401
    ok = browser.client.get(
        "/api/cases", headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin"}
    )
    assert ok.status_code == 200
    wrong = browser.client.get("/api/cases", headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "csrf_failed"
    cross = browser.client.post(
        "/api/cases",
        json={"title": "x", "parties": ["NL"], "agreement": ""},
        headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    other_origin = browser.client.get(
        "/api/cases", headers={"X-CSRF-Token": csrf, "Origin": "https://attacker.example"}
    )
    assert other_origin.status_code == 403
    made = browser.client.post(
        "/api/cases",
        json={"title": "By session", "parties": ["NL"], "agreement": ""},
        headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"},
    )
    assert made.status_code == 201
    # A bearer token still wins over the cookie (another identity, on purpose).
    as_de = browser.client.get("/api/cases", headers=world.headers("DE", "prosecutor"))
    assert as_de.json()["items"] == []


def test_mounting_twice_only_replaces_the_configuration(workspace: Workspace) -> None:
    app = web_app(workspace)
    routes = len(app.routes)
    mount_web(app, workspace, config=WebConfig(session_key=b"\x01" * 32))
    assert len(app.routes) == routes
    assert app.state.web.config.session_key == b"\x01" * 32
