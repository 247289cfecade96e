"""The workspace's pages for each role, their actions through the services, the French
rendering, and untrusted text shown as text."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from server.services.workspace import Workspace
from tests.server.helpers import World, create_case, drain, register_exhibit
from tests.server.testclient import TestClient
from tests.web.conftest import Browser, NewBrowser

CONTENT = b"disk image bytes\n" * 1000


@dataclass
class Scene:
    """Case NL+FR (BE registered, no party): one NL exhibit with content, shared with FR."""

    world: World
    api: TestClient
    case_id: str
    exhibit_id: str

    @property
    def case(self) -> str:
        return f"/cases/{self.case_id}"

    @property
    def exhibit(self) -> str:
        return f"/cases/{self.case_id}/exhibits/{self.exhibit_id}"

    def log(self) -> list[dict[str, Any]]:
        answer = self.api.get(
            f"/api/cases/{self.case_id}/log", headers=self.world.headers("NL", "prosecutor")
        )
        return [json.loads(line) for line in answer.content.splitlines()]


@pytest.fixture
def scene(new_browser: NewBrowser, world: World) -> Scene:
    world.add_state("BE")
    api = new_browser().client
    case_id = create_case(api, world, parties=("NL", "FR"))
    exhibit_id = register_exhibit(api, world, case_id, by="NL", label="NL-001 handset")
    stored = api.put(
        f"/api/cases/{case_id}/exhibits/{exhibit_id}/content?filename=phone.bin",
        content=CONTENT,
        headers={**world.headers("NL", "technician"), "Content-Type": "application/octet-stream"},
    )
    assert stored.status_code == 201, stored.text
    shared = api.post(
        f"/api/cases/{case_id}/exhibits/{exhibit_id}/shares",
        json={"jurisdiction": "FR", "conditions": "JIT use only"},
        headers=world.headers("NL", "prosecutor"),
    )
    assert shared.status_code == 201
    return Scene(world, api, case_id, exhibit_id)


def _as(
    new_browser: NewBrowser, world: World, code: str, role: str, sub: str | None = None
) -> Browser:
    browser = new_browser()
    browser.sign_in(world.token(code, role, sub))
    return browser


def test_the_case_page_shows_parties_exhibits_states_owner_and_shares(
    scene: Scene, new_browser: NewBrowser
) -> None:
    page = _as(new_browser, scene.world, "FR", "investigator").client.get(scene.case)
    assert page.status_code == 200
    text = page.text
    assert "NL-001 handset" in text
    assert 'class="badge state-stored"' in text
    assert re.search(r"Shared with</th>", text)
    row = text[text.index("NL-001 handset") :]
    assert '<bdi dir="auto">FR</bdi>' in row[:2000]  # shared with FR
    assert "No party state has registered a witness" in text


def test_pages_answer_403_to_other_states_and_404_to_unknown_ids(
    scene: Scene, new_browser: NewBrowser
) -> None:
    outsider = _as(new_browser, scene.world, "BE", "investigator")
    for path in (scene.case, scene.exhibit, scene.case + "/log", scene.case + "/notes"):
        answer = outsider.client.get(path)
        assert answer.status_code == 403, path
        assert "not a party to this case" in answer.text
    assert "NL-001" not in outsider.client.get("/cases").text
    nl = _as(new_browser, scene.world, "NL", "prosecutor")
    unknown = "/cases/00000000-0000-4000-8000-000000000000"
    assert nl.client.get(unknown).status_code == 404
    assert (
        nl.client.get(scene.case + "/exhibits/00000000-0000-4000-8000-000000000000").status_code
        == 404
    )
    assert nl.client.get("/cases/not-a-uuid").status_code == 404
    assert nl.client.get(scene.case + "/log/999").status_code == 404


def test_each_role_sees_its_pages_and_only_its_actions(
    scene: Scene, new_browser: NewBrowser
) -> None:
    world = scene.world
    prosecutor = _as(new_browser, world, "NL", "prosecutor")
    for path in (
        "/cases",
        scene.case,
        scene.exhibit,
        scene.case + "/log",
        scene.case + "/notes",
        scene.case + "/exports",
        "/cases/new",
        "/verify-bundle",
        "/licenses",
        scene.case + "/log/0",
    ):
        assert prosecutor.client.get(path).status_code == 200, path
    exhibit = prosecutor.client.get(scene.exhibit).text
    assert 'action="' + scene.exhibit + '/dispose"' in exhibit  # owner state's prosecutor
    assert 'action="' + scene.exhibit + '/seal"' not in exhibit  # sealing: investigators
    assert 'action="' + scene.exhibit + '/hold"' in exhibit

    technician = _as(new_browser, world, "NL", "technician")
    assert technician.client.get("/cases/new").status_code == 403
    assert technician.client.get(scene.case + "/exports").status_code == 403
    assert technician.client.get(scene.case + "/exhibits/new").status_code == 200
    exhibit = technician.client.get(scene.exhibit).text
    assert 'action="' + scene.exhibit + '/seal"' in exhibit
    assert 'action="' + scene.exhibit + '/shares"' not in exhibit  # technicians do not share
    assert 'action="' + scene.exhibit + '/dispose"' not in exhibit

    fr = _as(new_browser, world, "FR", "investigator")
    exhibit = fr.client.get(scene.exhibit).text
    assert 'action="' + scene.exhibit + '/content"' in exhibit  # shared with FR: download
    assert 'action="' + scene.exhibit + '/seal"' not in exhibit  # not the owner

    judge = _as(new_browser, world, "NL", "judge", "judge-visser")
    assert judge.client.get(scene.case).status_code == 403  # no grant yet
    granted = scene.api.post(
        f"/api/cases/{scene.case_id}/grants",
        json={"jurisdiction": "NL", "sub": "judge-visser", "role": "judge"},
        headers=world.headers("NL", "prosecutor"),
    )
    assert granted.status_code == 201
    for path in (
        scene.case,
        scene.exhibit,
        scene.case + "/log",
        scene.case + "/notes",
        scene.case + "/exports",
    ):
        assert judge.client.get(path).status_code == 200, path
    assert "Make a bundle" not in judge.client.get(scene.case + "/exports").text
    defence = _as(new_browser, world, "NL", "defence", "adv-bakker")
    scene.api.post(
        f"/api/cases/{scene.case_id}/grants",
        json={"jurisdiction": "NL", "sub": "adv-bakker", "role": "defence"},
        headers=world.headers("NL", "prosecutor"),
    )
    assert defence.client.get(scene.case).status_code == 200
    assert defence.client.get(scene.case + "/notes").status_code == 403  # notes: not defence
    assert '/notes"' not in defence.client.get(scene.case).text


def test_page_actions_write_the_same_custody_entries_as_the_api(
    scene: Scene, new_browser: NewBrowser
) -> None:
    world = scene.world
    tech = _as(new_browser, world, "NL", "technician", "tech-anna")
    answer = tech.post(
        scene.case + "/exhibits",
        {
            "label": "NL-002 laptop",
            "description": "seized at the address",
            "tool": "FTK Imager 4.7",
            "operator": "tech-anna",
            "time": "2026-11-27T09:15",
            "hash_sha256": "AB" * 32,
        },
        page=scene.case + "/exhibits/new",
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    new_exhibit = answer.headers["location"]  # type: ignore[attr-defined]
    registered = scene.log()[-1]
    assert registered["type"] == "exhibit.registered"
    assert registered["actor"]["sub"] == "tech-anna"
    assert registered["data"]["acquisition"] == {
        "tool": "FTK Imager 4.7",
        "operator": "tech-anna",
        "time": "2026-11-27T09:15:00Z",
        "hashes": {"sha256": "ab" * 32},
    }
    assert registered["data"]["owner"] == "NL"
    tech.post(new_exhibit + "/seal", {"reason": "imaging done"}, page=new_exhibit)
    tech.post(
        scene.case + "/notes",
        {"text": "chain checked", "exhibit": new_exhibit.rsplit("/", 1)[1]},
        page=new_exhibit,
    )
    prosecutor = _as(new_browser, world, "NL", "prosecutor")
    prosecutor.post(
        new_exhibit + "/shares",
        {"jurisdiction": "FR", "conditions": "court only"},
        page=new_exhibit,
    )
    prosecutor.post(new_exhibit + "/hold", {"reason": "order 12/2026"}, page=new_exhibit)
    # Several holds may be open (spec 2.1); a release must then name one, which the page
    # (releasing the one open hold) cannot: the refusal, in words, on the page.
    prosecutor.post(new_exhibit + "/hold", {"reason": "order 13/2026"}, page=new_exhibit)
    refused = prosecutor.post(new_exhibit + "/hold/release", {"reason": "x"}, page=new_exhibit)
    assert refused.status_code == 303  # type: ignore[attr-defined]
    shown = prosecutor.client.get(new_exhibit).text
    assert "2 open holds" in shown
    types = [e["type"] for e in scene.log()[-5:]]
    assert types == [
        "exhibit.sealed",
        "note.added",
        "exhibit.shared",
        "exhibit.hold_set",
        "exhibit.hold_set",
    ]
    assert scene.log()[-1]["data"] == {"reason": "order 13/2026", "authority": "order 13/2026"}
    shares = scene.log()[-3]
    assert shares["data"] == {"jurisdiction": "FR", "conditions": "court only"}


def test_a_download_from_the_page_is_logged_with_its_purpose(
    scene: Scene, new_browser: NewBrowser
) -> None:
    fr = _as(new_browser, scene.world, "FR", "investigator")
    answer = fr.post(scene.exhibit + "/content", {"purpose": "analysis FR-7"}, page=scene.exhibit)
    assert answer.status_code == 200  # type: ignore[attr-defined]
    assert answer.content == CONTENT  # type: ignore[attr-defined]
    assert answer.headers["content-security-policy"].startswith("sandbox")  # type: ignore[attr-defined]
    accessed = scene.log()[-1]
    assert accessed["type"] == "exhibit.accessed"
    assert accessed["data"]["purpose"] == "analysis FR-7"
    assert accessed["actor"]["jurisdiction"] == "FR"
    page = fr.client.get(scene.exhibit).text
    assert hashlib.sha256(CONTENT).hexdigest() in page  # SHA-256 in full


def test_the_timeline_filters_and_links_each_entry_to_its_proof(
    scene: Scene, new_browser: NewBrowser
) -> None:
    browser = _as(new_browser, scene.world, "FR", "investigator")
    page = browser.client.get(scene.case + "/log?type=exhibit.shared").text
    assert "1 entries, newest first" in page
    assert "JIT use only" in page
    assert f'href="{scene.case}/log/3"' in page
    everything = browser.client.get(scene.case + "/log").text
    assert "opened the case" in everything
    by_state = browser.client.get(scene.case + "/log?state=FR").text
    assert "opened the case" not in by_state
    proof = browser.client.get(scene.case + "/log/3").text
    assert "Root hash" in proof
    raw = browser.client.get(scene.case + "/log/3/proof.json").json()
    assert raw["seq"] == 3
    assert raw["size"] == len(scene.log())


def test_an_export_from_the_page_is_followed_and_downloaded(
    scene: Scene, new_browser: NewBrowser, workspace: Workspace
) -> None:
    prosecutor = _as(new_browser, scene.world, "NL", "prosecutor")
    answer = prosecutor.post(
        scene.case + "/exports",
        {"recipient": "Rechtbank Amsterdam", "disclosure": "full", "content": "yes"},
        page=scene.case + "/exports",
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    export_page = answer.headers["location"]  # type: ignore[attr-defined]
    drain(prosecutor.client)  # the bundle is written by the app's background work
    page = prosecutor.client.get(export_page).text
    assert "ready" in page
    digest = re.search(r'<code class="hash">([0-9a-f]{64})</code>', page)
    assert digest is not None
    bundle = prosecutor.post(export_page + "/bundle", {}, page=export_page)
    assert bundle.status_code == 200  # type: ignore[attr-defined]
    assert hashlib.sha256(bundle.content).hexdigest() == digest[1]  # type: ignore[attr-defined]
    # A judge granted the case receives the bundle; without the grant, no page at all.
    judge = _as(new_browser, scene.world, "NL", "judge", "judge-visser")
    assert judge.client.get(export_page).status_code == 403
    scene.api.post(
        f"/api/cases/{scene.case_id}/grants",
        json={"jurisdiction": "NL", "sub": "judge-visser", "role": "judge"},
        headers=scene.world.headers("NL", "prosecutor"),
    )
    received = judge.post(export_page + "/bundle", {}, page=export_page)
    assert received.status_code == 200  # type: ignore[attr-defined]
    assert received.content == bundle.content  # type: ignore[attr-defined]
    judged = [e for e in scene.log() if e["type"] == "exhibit.accessed"]
    assert [e["actor"]["role"] for e in judged] == ["prosecutor", "judge"]


PAGES_FR = (
    ("prosecutor", "/cases", "Affaires"),
    ("prosecutor", "{case}", "Pièces à conviction"),
    ("prosecutor", "{exhibit}", "Chaîne de possession de cette pièce"),
    ("prosecutor", "{case}/log", "Chronologie de la chaîne de possession"),
    ("prosecutor", "{case}/log/0", "Preuve que cette entrée figure dans le journal"),
    ("prosecutor", "{case}/notes", "Nouvelle note"),
    ("prosecutor", "{case}/exports", "Établir un dossier"),
    ("prosecutor", "/cases/new", "Ouvrir l'affaire"),
    ("prosecutor", "/verify-bundle", "Vérifier un dossier pour le tribunal"),
    ("prosecutor", "/licenses", "Licences des logiciels de cette page"),
    ("technician", "{case}/exhibits/new", "Enregistrer une pièce à conviction"),
    ("technician", "{exhibit}", "Aucune mesure de conservation"),
)


def test_every_page_renders_in_french(scene: Scene, new_browser: NewBrowser) -> None:
    browsers = {}
    for role in ("prosecutor", "technician"):
        browsers[role] = browser = new_browser()
        browser.client.headers["Accept-Language"] = "fr-BE,fr;q=0.9,en;q=0.5"
        assert "Se connecter" in browser.client.get("/sign-in").text
        browser.sign_in(scene.world.token("NL", role))
    for role, path, words in PAGES_FR:
        url = path.format(case=scene.case, exhibit=scene.exhibit)
        page = browsers[role].client.get(url)
        assert page.status_code == 200, url
        assert '<html lang="fr"' in page.text, url
        assert words in page.text, (url, words)
        assert "Sign out" not in page.text, url
        assert "Se déconnecter" in page.text, url
    refused = browsers["prosecutor"].client.get("/cases/00000000-0000-4000-8000-000000000000")
    assert refused.status_code == 404
    assert "Aucune affaire de ce nom." in refused.text


def test_the_language_is_switched_and_remembered(scene: Scene, new_browser: NewBrowser) -> None:
    browser = _as(new_browser, scene.world, "NL", "prosecutor")
    assert '<html lang="en"' in browser.client.get("/cases").text
    assert '<html lang="de"' in browser.client.get("/cases?lang=de").text
    page = browser.client.get(scene.case).text
    assert '<html lang="de"' in page
    assert "Beweisstücke" in page


HOSTILE = "<script>alert(1)</script>\u202egpj.exe"


def test_a_label_with_script_and_a_bidi_override_is_shown_as_text(
    scene: Scene, new_browser: NewBrowser
) -> None:
    world = scene.world
    tech = _as(new_browser, world, "NL", "technician")
    answer = tech.post(
        scene.case + "/exhibits",
        {
            "label": HOSTILE,
            "description": HOSTILE,
            "tool": "x",
            "operator": "y",
            "time": "2026-11-27T09:15:00",
        },
        page=scene.case + "/exhibits/new",
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    exhibit = answer.headers["location"]  # type: ignore[attr-defined]
    note = tech.post(scene.case + "/notes", {"text": HOSTILE}, page=scene.case + "/notes")
    assert note.status_code == 303  # type: ignore[attr-defined]
    for path in (
        scene.case,
        exhibit,
        scene.case + "/log",
        scene.case + "/notes",
        scene.case + "/exports",
    ):
        page = _as(new_browser, world, "NL", "prosecutor").client.get(path).text
        assert "<script>alert" not in page, path
        assert "\u202e" not in page, path  # never sent raw: it would reorder the row
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
        assert '<span class="ctl">U+202E</span>gpj.exe' in page, path
        assert re.search(r"<bdi dir=\"auto\">&lt;script&gt;", page), path
    title = tech.client.get(exhibit).text
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;U+202Egpj.exe" in title
