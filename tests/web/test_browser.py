"""The workspace in a real browser: upload with resume, and sharing (every page under
axe-core: tests/web/test_browser_pages.py).

Headless Debian chromium (Playwright) against the app served on a loopback port. Skipped
locally without chromium or playwright, failed under CI=true (tests/web/browser.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette

from custody.policy import build_policy
from server.cli import main as cli_main
from server.services.workspace import Workspace
from tests.server.helpers import ACQUISITION, World
from tests.web.browser import chromium, live_server, need_browser, person, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.slow

UPLOAD_SIZE = 50 * 1000 * 1000
THROTTLED = 4_000_000  # bytes per second while the test needs the upload in flight
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def site(app: Starlette) -> Iterator[str]:
    need_browser()
    with live_server(app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    need_browser()
    with chromium() as launched:
        yield launched


class Api:
    """The live server's API, with a state's bearer token (test setup, not under test)."""

    def __init__(self, site: str, world: World) -> None:
        self.site = site
        self.world = world

    def call(self, method: str, path: str, code: str, role: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.world.headers(code, role), **kwargs.pop("headers", {})}
        return httpx.request(method, self.site + path, headers=headers, timeout=60, **kwargs)

    def case(self, parties: tuple[str, ...]) -> str:
        made = self.call(
            "POST",
            "/api/cases",
            "NL",
            "prosecutor",
            json={"title": "Operation Tulip", "parties": list(parties), "agreement": "JIT-2026-17"},
        )
        assert made.status_code == 201, made.text
        case_id: str = made.json()["id"]
        return case_id

    def exhibit(self, case_id: str, label: str, content: bytes | None = None) -> str:
        made = self.call(
            "POST",
            f"/api/cases/{case_id}/exhibits",
            "NL",
            "technician",
            json={"label": label, "description": "", "acquisition": dict(ACQUISITION)},
        )
        assert made.status_code == 201, made.text
        exhibit_id: str = made.json()["id"]
        if content is not None:
            stored = self.call(
                "PUT",
                f"/api/cases/{case_id}/exhibits/{exhibit_id}/content?filename=phone.bin",
                "NL",
                "technician",
                content=content,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert stored.status_code == 201, stored.text
        return exhibit_id

    def log(self, case_id: str) -> list[dict[str, Any]]:
        answer = self.call("GET", f"/api/cases/{case_id}/log", "NL", "prosecutor")
        return [json.loads(line) for line in answer.content.splitlines()]


def _conditions(*, offline: bool, upload: int = THROTTLED) -> dict[str, Any]:
    return {"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": upload}


def _throttle(context: BrowserContext, page: Page, upload: int) -> None:
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": upload},
    )


def test_an_nl_technician_uploads_reloads_mid_upload_and_resumes(
    site: str, browser: Browser, world: World, tmp_path: Path
) -> None:
    api = Api(site, world)
    case_id = api.case(("NL", "FR"))
    payload = hashlib.shake_256(b"jitc browser upload").digest(UPLOAD_SIZE)
    path = tmp_path / "phone-image.bin"
    path.write_bytes(payload)
    expected = hashlib.sha256(payload).hexdigest()

    context, page, refused = person(
        browser, site, world.token("NL", "technician", "tech-anna"), locale="nl-NL"
    )
    assert page.get_attribute("html", "lang") == "nl"
    page.click(f"a[href='/cases/{case_id}']")
    page.click(f"a[href='/cases/{case_id}/exhibits/new']")
    page.fill("#label", "NL-001 handset")
    page.fill("#description", "Samsung, in beslag genomen op 27-11")
    page.fill("#tool", "UFED 7.70")
    page.fill("#time", "2026-11-27T09:00:00")
    screenshot(page, "exhibit-register-nl")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(rf"/cases/{case_id}/exhibits/{UUID}$"))
    exhibit_url = page.url

    _throttle(context, page, THROTTLED)
    page.set_input_files("#upload-file", str(path))
    page.wait_for_function(
        "() => document.getElementById('upload-sent').textContent !== '—'"
        " && document.getElementById('upload-progress').value >= 20",
        timeout=120_000,
    )
    assert page.is_visible("#upload-progress")
    assert page.inner_text("#upload-sha256") == expected  # hashed in the browser first
    assert page.inner_text("#upload-speed") != "—"
    assert page.inner_text("#upload-left") != "—"
    screenshot(page, "exhibit-uploading-nl")

    page.reload()  # mid-upload: the PATCH in flight is cut off
    assert page.url == exhibit_url
    page.set_input_files("#upload-file", str(path))
    page.wait_for_selector("#upload[data-resumed-at]", state="attached", timeout=120_000)
    resumed_at = int(page.get_attribute("#upload", "data-resumed-at") or "0")
    assert 0 < resumed_at < UPLOAD_SIZE
    _throttle(context, page, -1)
    # On success the page reloads and shows what the server stored.
    page.wait_for_selector(f"#stored-sha256 code:text-is('{expected}')", timeout=180_000)
    screenshot(page, "exhibit-stored-nl")
    assert not refused, refused
    ingested = [e for e in api.log(case_id) if e["type"] == "exhibit.ingested"]
    assert len(ingested) == 1
    assert ingested[0]["data"]["sha256"] == expected
    assert ingested[0]["data"]["size"] == UPLOAD_SIZE
    assert ingested[0]["actor"]["sub"] == "tech-anna"
    context.close()


def test_an_upload_waits_out_a_dropped_network_and_goes_on_by_itself(
    site: str, browser: Browser, world: World, tmp_path: Path
) -> None:
    """The network drops mid-upload (a technician's laptop loses its link): the upload
    keeps its place, offers Resume, and goes on by itself from the server's offset when
    the browser is online again, without choosing the file or hashing it again."""
    api = Api(site, world)
    case_id = api.case(("NL",))
    exhibit_id = api.exhibit(case_id, "NL-002 laptop")
    payload = hashlib.shake_256(b"jitc dropped network").digest(UPLOAD_SIZE)
    path = tmp_path / "laptop-image.bin"
    path.write_bytes(payload)
    expected = hashlib.sha256(payload).hexdigest()

    context, page, refused = person(browser, site, world.token("NL", "technician", "tech-anna"))
    page.goto(f"{site}/cases/{case_id}/exhibits/{exhibit_id}")
    _throttle(context, page, THROTTLED)
    page.set_input_files("#upload-file", str(path))
    page.wait_for_function(  # sending, not hashing: the bar shows both
        "() => document.getElementById('upload-sent').textContent !== '—'"
        " && document.getElementById('upload-progress').value >= 20",
        timeout=120_000,
    )
    network = context.new_cdp_session(page)
    network.send("Network.enable")
    network.send("Network.emulateNetworkConditions", _conditions(offline=True))
    page.wait_for_selector("#upload-resume", state="visible", timeout=60_000)
    assert page.is_hidden("#upload-pause")
    network.send("Network.emulateNetworkConditions", _conditions(offline=False))
    page.wait_for_selector("#upload[data-resumed-at]", state="attached", timeout=120_000)
    resumed_at = int(page.get_attribute("#upload", "data-resumed-at") or "0")
    assert 0 < resumed_at < UPLOAD_SIZE
    _throttle(context, page, -1)
    page.wait_for_selector(f"#stored-sha256 code:text-is('{expected}')", timeout=180_000)
    assert not refused, refused
    ingested = [e for e in api.log(case_id) if e["type"] == "exhibit.ingested"]
    assert [(e["data"]["sha256"], e["data"]["declared_sha256"]) for e in ingested] == [
        (expected, True)
    ]
    context.close()


def test_nl_shares_with_fr_which_downloads_and_be_does_not_see_it(
    site: str, browser: Browser, world: World, tmp_path: Path
) -> None:
    world.add_state("BE")
    api = Api(site, world)
    case_id = api.case(("NL", "FR", "BE"))
    content = b"evidence bytes " * 4096
    exhibit_id = api.exhibit(case_id, "NL-001 handset", content)
    exhibit = f"{site}/cases/{case_id}/exhibits/{exhibit_id}"

    nl, page, refused = person(browser, site, world.token("NL", "prosecutor", "pros-eva"))
    page.goto(exhibit)
    page.select_option("#share-state", "FR")
    page.fill("#share-conditions", "JIT use only; no onward transfer")
    page.click("form[action$='/shares'] button[type=submit]")
    page.wait_for_selector("text=JIT use only; no onward transfer")
    screenshot(page, "exhibit-shared")
    assert not refused, refused
    nl.close()

    fr, page, refused = person(browser, site, world.token("FR", "investigator", "enq-martin"))
    page.goto(f"{site}/cases/{case_id}")
    assert page.is_visible(f"a[href='/cases/{case_id}/exhibits/{exhibit_id}']")
    page.goto(exhibit)
    page.fill("#purpose", "analyse FR-7")
    with page.expect_download() as waiting:
        page.click(f"form[action='/cases/{case_id}/exhibits/{exhibit_id}/content'] button")
    saved = tmp_path / "fr-download.bin"
    waiting.value.save_as(saved)
    assert saved.read_bytes() == content
    assert not refused, refused
    fr.close()
    accessed = [e for e in api.log(case_id) if e["type"] == "exhibit.accessed"]
    assert [(e["actor"]["jurisdiction"], e["data"]["purpose"]) for e in accessed] == [
        ("FR", "analyse FR-7")
    ]

    be, page, refused = person(browser, site, world.token("BE", "investigator", "onderz-peeters"))
    page.goto(exhibit)
    assert page.locator("#purpose").count() == 0  # no download offered
    shared_with = page.inner_text("section[aria-labelledby='shares-h'] tbody")
    assert "FR" in shared_with
    assert "BE" not in shared_with
    # Asked for anyway (a forged form post from the page itself), the content is refused.
    answer = page.request.post(
        f"{exhibit}/content",
        form={"purpose": "x", "csrf": page.get_attribute("meta[name=csrf-token]", "content") or ""},
        headers={"Origin": site},
    )
    assert answer.status == 403
    assert not refused, refused
    be.close()
    assert len([e for e in api.log(case_id) if e["type"] == "exhibit.accessed"]) == 1


def test_nl_grants_a_judge_who_downloads_the_bundle_that_jitc_verify_passes(
    app: Starlette,
    site: str,
    browser: Browser,
    world: World,
    workspace: Workspace,
    tmp_path: Path,
) -> None:
    """The prosecutor grants an NL judge and exports, all through the pages; the judge
    downloads the bundle in the browser, and `jitc verify` passes it with a policy made
    from the case's key as the state holds it, not from anything the server hands out."""
    api = Api(site, world)
    case_id = api.case(("NL",))
    content = b"seized handset image " * 2048
    api.exhibit(case_id, "NL-001 handset", content)
    case_page = f"{site}/cases/{case_id}"

    nl, page, refused = person(browser, site, world.token("NL", "prosecutor", "pros-eva"))
    page.goto(case_page)
    page.fill("#grant-sub", "judge-visser")
    page.select_option("#grant-role", "judge")
    page.click(f"form[action='/cases/{case_id}/grants'] button[type=submit]")
    page.wait_for_selector("section[aria-labelledby='grants-h'] >> text=judge-visser")
    page.goto(f"{case_page}/exports")
    page.fill("#recipient", "Rechtbank Amsterdam")
    page.check("input[name=disclosure][value=full]")
    page.check("input[name=content][value=yes]")
    page.click(f"form[action='/cases/{case_id}/exports'] button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(case_page)}/exports/{UUID}$"))
    export_page = page.url
    app.state.runtime.drain(60)  # the bundle is written by the app's background work
    page.reload()
    digest = page.inner_text("dt:has-text('SHA-256 of the bundle') + dd code.hash").strip()
    assert not refused, refused
    nl.close()

    judge, page, refused = person(browser, site, world.token("NL", "judge", "judge-visser"))
    page.goto(export_page)
    with page.expect_download() as waiting:
        page.click("form[action$='/bundle'] button")
    bundle = tmp_path / "bundle.zip"
    waiting.value.save_as(bundle)
    assert not refused, refused
    judge.close()
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == digest

    log_vkey = workspace.signer.case_signer(case_id).vkey()
    policy = tmp_path / "policy.txt"
    policy.write_text(build_policy(log_vkey, [], quorum=None).to_text())
    assert cli_main(["verify", str(bundle), "--policy", str(policy)]) == 0
    judged = [e for e in api.log(case_id) if e["type"] == "exhibit.accessed"]
    assert [(e["actor"]["role"], e["actor"]["sub"]) for e in judged] == [("judge", "judge-visser")]
