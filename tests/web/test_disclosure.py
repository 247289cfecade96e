"""A defence lawyer sees nothing of the exhibits their grant does not disclose, on any
page: no label, no entry, no hold (spec 2.1), exactly as the API's log read and exhibit
list filter it (`server.services.rules.disclosed`)."""

from __future__ import annotations

import json

from tests.server.helpers import World, create_case, register_exhibit
from tests.web.conftest import NewBrowser

SECRET = "Bravo-undisclosed-7"


def test_a_defence_lawyer_sees_nothing_of_an_exhibit_their_grant_does_not_list(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case_id = create_case(api, world, parties=("NL", "FR"))
    shown = register_exhibit(api, world, case_id, by="NL", label="Alpha-disclosed")
    hidden = register_exhibit(api, world, case_id, by="NL", label=SECRET)
    for exhibit_id in (shown, hidden):
        held = api.post(
            f"/api/cases/{case_id}/exhibits/{exhibit_id}/hold",
            json={"reason": "court order", "authority": "Rechtbank Den Haag"},
            headers=world.headers("NL", "prosecutor"),
        )
        assert held.status_code in (200, 201), held.text
    granted = api.post(
        f"/api/cases/{case_id}/grants",
        json={"jurisdiction": "NL", "sub": "adv-bakker", "role": "defence", "exhibits": [shown]},
        headers=world.headers("NL", "prosecutor"),
    )
    assert granted.status_code == 201, granted.text
    everything = api.get(f"/api/cases/{case_id}/log", headers=world.headers("NL", "prosecutor"))

    entries = [json.loads(line) for line in everything.content.splitlines()]
    hidden_seqs = [e["seq"] for e in entries if e.get("exhibit") == hidden]
    assert hidden_seqs  # registered and held

    defence = new_browser()
    defence.sign_in(world.token("NL", "defence", "adv-bakker"))
    case = f"/cases/{case_id}"
    pages = [
        case,
        case + "/log",
        case + "/log?type=exhibit.hold_set",
        case + "/log?page=2",
        case + f"/log?exhibit={hidden}",
        case + "/exports",
        case + f"/exhibits/{shown}",
    ]
    for path in pages:
        answer = defence.client.get(path)
        assert answer.status_code == 200, path
        assert SECRET not in answer.text, path
        # The filter the lawyer typed is echoed in the page's own links; nothing else.
        assert hidden not in answer.text.replace(f"exhibit={hidden}", ""), path
    # The disclosed exhibit and the case-level entries are still shown.
    assert "Alpha-disclosed" in defence.client.get(case + "/log").text
    assert "Alpha-disclosed" in defence.client.get(case).text
    # The hidden exhibit and its entries do not exist for them.
    assert defence.client.get(case + f"/exhibits/{hidden}").status_code == 404
    for seq in hidden_seqs:
        assert defence.client.get(case + f"/log/{seq}").status_code == 404, seq
