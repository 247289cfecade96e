"""The workspace's pages for each role, their actions through the services, the language
switch, and untrusted text shown as text (every page in French, German and Dutch:
tests/web/test_languages.py)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

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
    order: dict[str, str | list[str]] = {"reason": "seized phone", "authority": "order 12/2026"}
    prosecutor.post(new_exhibit + "/hold", order, page=new_exhibit)
    # Several holds may be open (spec 2.1); a release must then name one: without its
    # seq the refusal is shown in words on the page.
    order13: dict[str, str | list[str]] = {"reason": "second order", "authority": "order 13/2026"}
    prosecutor.post(new_exhibit + "/hold", order13, page=new_exhibit)
    refused = prosecutor.post(new_exhibit + "/hold/release", {"reason": "x"}, page=new_exhibit)
    assert refused.status_code == 303  # type: ignore[attr-defined]
    shown = prosecutor.client.get(new_exhibit).text
    assert "hold must be the seq" in shown
    # The authority is its own field and required.
    no_authority = prosecutor.post(new_exhibit + "/hold", {"reason": "r"}, page=new_exhibit)
    assert no_authority.status_code == 303  # type: ignore[attr-defined]
    types = [e["type"] for e in scene.log()[-5:]]
    assert types == [
        "exhibit.sealed",
        "note.added",
        "exhibit.shared",
        "exhibit.hold_set",
        "exhibit.hold_set",
    ]
    assert scene.log()[-1]["data"] == order13
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
    assert f'href="{scene.case}/log/4"' in page
    everything = browser.client.get(scene.case + "/log").text
    assert "opened the case" in everything
    by_state = browser.client.get(scene.case + "/log?state=FR").text
    assert "opened the case" not in by_state
    proof = browser.client.get(scene.case + "/log/4").text
    assert "Root hash" in proof
    raw = browser.client.get(scene.case + "/log/4/proof.json").json()
    assert raw["seq"] == 4
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
    assert "Entries in the log at export" in page
    assert "none: every witness cosigned" in page
    assert "stops before the newest entry" not in page
    # A bundle that stopped short says so, and names the witnesses that had not cosigned
    # (set here as the planner records them when a witness is down).
    export_id = export_page.rsplit("/", 1)[1]
    with workspace.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE exports SET log_size = tree_size + 3, not_cosigned = :names WHERE id = :id"
            ),
            {"names": json.dumps(["witness-be"]), "id": export_id},
        )
    short = prosecutor.client.get(export_page).text
    assert "stops before the newest entry" in short
    assert "witness-be" in short
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


def test_the_exhibit_page_lists_its_holds_and_their_releases(
    scene: Scene, new_browser: NewBrowser
) -> None:
    prosecutor = _as(new_browser, scene.world, "NL", "prosecutor")
    order: dict[str, str | list[str]] = {"reason": "seized phone", "authority": "order 12/2026"}
    prosecutor.post(scene.exhibit + "/hold", order, page=scene.exhibit)
    held = len(scene.log()) - 1
    other: dict[str, str | list[str]] = {"reason": "second", "authority": "order 13/2026"}
    prosecutor.post(scene.exhibit + "/hold", other, page=scene.exhibit)
    still = len(scene.log()) - 1
    # A judge's hold: only a judge of NL may release it, so the prosecutor gets no form.
    scene.api.post(
        f"/api/cases/{scene.case_id}/grants",
        json={"jurisdiction": "NL", "sub": "judge-visser", "role": "judge"},
        headers=scene.world.headers("NL", "prosecutor"),
    )
    judge = _as(new_browser, scene.world, "NL", "judge", "judge-visser")
    by_court: dict[str, str | list[str]] = {
        "reason": "court",
        "authority": "Rechtbank Den Haag 1/2026",
    }
    judge.post(scene.exhibit + "/hold", by_court, page=scene.exhibit)
    judged = len(scene.log()) - 1
    page = prosecutor.client.get(scene.exhibit).text
    assert "order 12/2026" in page
    assert "Rechtbank Den Haag 1/2026" in page
    forms = set(re.findall(r'name="hold" value="(\d+)"', page))
    assert forms == {str(held), str(still)}
    # An NL judge may release every hold NL set, its own court's included.
    judge_forms = set(
        re.findall(r'name="hold" value="(\d+)"', judge.client.get(scene.exhibit).text)
    )
    assert judge_forms == {str(held), str(still), str(judged)}
    # FR, a party that set none of them, may release none.
    fr = _as(new_browser, scene.world, "FR", "prosecutor")
    assert 'name="hold"' not in fr.client.get(scene.exhibit).text
    prosecutor.post(
        scene.exhibit + "/hold/release", {"reason": "lifted", "hold": str(held)}, page=scene.exhibit
    )
    released = len(scene.log()) - 1
    assert scene.log()[held]["type"] == "exhibit.hold_set"
    assert scene.log()[released]["type"] == "exhibit.hold_released"
    assert scene.log()[released]["data"]["hold"] == held
    page = prosecutor.client.get(scene.exhibit).text
    assert f'href="{scene.case}/log/{held}"' in page
    assert f"released by entry {released}" in page
    # the exhibit's own timeline, and the timeline filtered by the exhibit, show both
    assert f'href="{scene.case}/log/{released}"' in page
    exhibit_id = scene.exhibit.rsplit("/", 1)[1]
    only = prosecutor.client.get(f"{scene.case}/log?exhibit={exhibit_id}").text
    assert f'href="{scene.case}/log/{held}"' in only
    assert "opened the case" not in only


def test_the_timeline_pages_newest_first_with_and_without_filters(
    scene: Scene, new_browser: NewBrowser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.web import views

    monkeypatch.setattr(views, "LOG_PAGE_SIZE", 2)
    browser = _as(new_browser, scene.world, "NL", "prosecutor")
    log = scene.log()
    newest = len(log) - 1

    def seqs(query: str) -> list[int]:
        page = browser.client.get(f"{scene.case}/log?{query}").text
        return [int(s) for s in re.findall(r'class="seq">#(\d+)<', page)]

    assert seqs("") == [newest, newest - 1]
    assert seqs("page=2") == [newest - 2, newest - 3]
    assert seqs("page=999")[-1] == 0  # past the end: the last page
    by_nl = [e["seq"] for e in reversed(log) if e["actor"]["jurisdiction"] == "NL"]
    assert seqs("state=NL") == by_nl[:2]
    assert seqs("state=NL&page=2") == by_nl[2:4]


def test_a_filter_many_entries_pass_is_counted_up_to_a_cap_and_still_pages(
    scene: Scene, new_browser: NewBrowser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.services import views as readmodel
    from server.web import views

    monkeypatch.setattr(views, "LOG_PAGE_SIZE", 2)
    monkeypatch.setattr(readmodel, "COUNT_CAP", 3)
    for n in range(3):
        noted = scene.api.post(
            f"/api/cases/{scene.case_id}/notes",
            json={"text": f"note {n}", "exhibit": None},
            headers=scene.world.headers("NL", "investigator"),
        )
        assert noted.status_code == 201, noted.text
    browser = _as(new_browser, scene.world, "NL", "prosecutor")
    by_nl = [e["seq"] for e in reversed(scene.log()) if e["actor"]["jurisdiction"] == "NL"]
    assert len(by_nl) >= 6
    first = browser.client.get(f"{scene.case}/log?state=NL").text
    assert "3+ entries, newest first" in first
    assert 'rel="next"' in first
    third = browser.client.get(f"{scene.case}/log?state=NL&page=3").text
    shown = [int(s) for s in re.findall(r'class="seq">#(\d+)<', third)]
    assert shown == by_nl[4:6]  # past the counted ones, still the right entries
