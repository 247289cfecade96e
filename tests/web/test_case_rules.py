"""The case page under the revised JIT rules (spec 2.1): parties join by consent, a state
withdraws only itself, and grants go to one's own courts and disclose listed exhibits; a
note can be checked against its commitment in the log."""

from __future__ import annotations

import hashlib
import json
import re

from tests.server.helpers import World, create_case, register_exhibit
from tests.web.conftest import Browser, NewBrowser


def _as(
    new_browser: NewBrowser, world: World, code: str, role: str, sub: str | None = None
) -> Browser:
    browser = new_browser()
    browser.sign_in(world.token(code, role, sub))
    return browser


def test_a_party_is_proposed_on_the_page_and_joins_on_the_other_partys_approval(
    new_browser: NewBrowser, world: World
) -> None:
    world.add_state("BE")
    api = new_browser().client
    case_id = create_case(api, world, parties=("NL", "FR"))
    case = f"/cases/{case_id}"
    nl = _as(new_browser, world, "NL", "prosecutor")
    page = nl.client.get(case).text
    assert "Propose a party" in page
    assert "Add a party" not in page
    # Withdrawal only for one's own state.
    assert "Withdraw NL" in page
    assert "Withdraw FR" not in page
    proposed = nl.post(case + "/parties", {"jurisdiction": "BE"}, page=case)
    assert proposed.status_code == 303  # type: ignore[attr-defined]
    page = nl.client.get(case).text
    assert "The state was proposed as a party" in page
    assert "consent still needed from: FR" in re.sub(r"<[^>]+>", "", page)
    assert "/approve" not in page  # NL proposed it: its consent is given
    fr = _as(new_browser, world, "FR", "prosecutor")
    fr_page = fr.client.get(case).text
    found = [line for line in fr_page.splitlines() if "/approve" in line]
    assert len(found) == 1
    action = found[0].split('action="', 1)[1].split('"', 1)[0]
    approved = fr.post(action, {}, page=case)
    assert approved.status_code == 303  # type: ignore[attr-defined]
    after = fr.client.get(case).text
    assert "The state was added as a party." in after
    assert "consent still needed" not in after
    detail = api.get(f"/api/cases/{case_id}", headers=world.headers("NL", "prosecutor")).json()
    assert sorted(detail["parties"]) == ["BE", "FR", "NL"]
    log = api.get(f"/api/cases/{case_id}/log", headers=world.headers("NL", "prosecutor"))
    types = [json.loads(line)["type"] for line in log.content.splitlines()]
    assert types[-3:] == ["case.party_proposed", "case.party_approved", "case.party_added"]


def test_a_grant_from_the_page_lists_the_exhibits_it_discloses(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case_id = create_case(api, world, parties=("NL", "FR"))
    shown = register_exhibit(api, world, case_id, by="NL", label="Alpha-listed")
    register_exhibit(api, world, case_id, by="NL", label="Bravo-unlisted")
    case = f"/cases/{case_id}"
    nl = _as(new_browser, world, "NL", "prosecutor")
    form = nl.client.get(case).text
    assert 'type="hidden" name="jurisdiction" value="NL"' in form
    assert f'name="exhibits" value="{shown}"' in form
    granted = nl.post(
        case + "/grants",
        {"jurisdiction": "NL", "sub": "adv-bakker", "role": "defence", "exhibits": [shown]},
        page=case,
    )
    assert granted.status_code == 303  # type: ignore[attr-defined]
    detail = api.get(f"/api/cases/{case_id}", headers=world.headers("NL", "prosecutor")).json()
    assert detail["grants"] == [
        {"jurisdiction": "NL", "sub": "adv-bakker", "role": "defence", "exhibits": [shown]}
    ]
    grants = nl.client.get(case).text.split('id="grants-h"', 1)[1].split("</table>", 1)[0]
    assert "Alpha-listed" in grants
    assert "Bravo-unlisted" not in grants
    # No exhibit ticked: every exhibit the state may read.
    nl.post(
        case + "/grants", {"jurisdiction": "NL", "sub": "judge-visser", "role": "judge"}, page=case
    )
    assert "every exhibit its state may read" in nl.client.get(case).text
    # Another state's court: refused by the service, shown on the page.
    refused = nl.post(
        case + "/grants", {"jurisdiction": "FR", "sub": "juge", "role": "judge"}, page=case
    )
    assert refused.status_code in (303, 403)  # type: ignore[attr-defined]
    detail = api.get(f"/api/cases/{case_id}", headers=world.headers("NL", "prosecutor")).json()
    assert [g["sub"] for g in detail["grants"]] == ["adv-bakker", "judge-visser"]


def test_a_note_shows_its_commitment_and_salt_so_a_reader_can_check_it(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case_id = create_case(api, world, parties=("NL", "FR"))
    notes = f"/cases/{case_id}/notes"
    nl = _as(new_browser, world, "NL", "investigator")
    text = "Handset seized at 10:00, sealed bag 7"
    assert nl.post(notes, {"text": text}, page=notes).status_code == 303  # type: ignore[attr-defined]
    page = nl.client.get(notes).text
    commitment = re.search(r'<code class="hash commitment">([0-9a-f]{64})</code>', page)
    salt = re.search(r'<code class="hash salt">([0-9a-f]{64})</code>', page)
    assert commitment is not None
    assert salt is not None
    check = hashlib.sha256(bytes.fromhex(salt[1]) + text.encode()).hexdigest()
    assert check == commitment[1]
    log = api.get(f"/api/cases/{case_id}/log", headers=world.headers("NL", "prosecutor"))
    added = [json.loads(line) for line in log.content.splitlines()][-1]
    assert added["type"] == "note.added"
    assert added["data"]["commitment"] == commitment[1]
    assert salt[1] not in log.text
