"""The JIT rules through the web workspace's doors: the pages call the same services as the
API, so a defence lawyer sees nothing of an exhibit their grant does not disclose, and a
grant or hold from a form follows the same rules as one from the API."""

from __future__ import annotations

import json

from tests.server.helpers import World, create_case, register_exhibit
from tests.web.conftest import Browser, NewBrowser


def _as(new_browser: NewBrowser, world: World, code: str, role: str, sub: str) -> Browser:
    browser = new_browser()
    browser.sign_in(world.token(code, role, sub))
    return browser


def test_defence_sees_nothing_of_an_undisclosed_exhibit_on_any_page(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case = create_case(api, world, parties=("NL", "FR"))
    open_one = register_exhibit(api, world, case, by="NL", label="Disclosed-handset")
    secret = register_exhibit(api, world, case, by="NL", label="Secret-laptop")
    nl = world.headers("NL", "prosecutor")
    granted = api.post(
        f"/api/cases/{case}/access",
        json={"jurisdiction": "NL", "sub": "adv-b", "role": "defence", "exhibits": [open_one]},
        headers=nl,
    )
    assert granted.status_code == 201, granted.text
    log = [
        json.loads(x)
        for x in api.get(f"/api/cases/{case}/log", headers=nl).content.split(b"\n")
        if x
    ]
    secret_seq = next(e["seq"] for e in log if e["exhibit"] == secret)
    defence = _as(new_browser, world, "NL", "defence", "adv-b")
    base = f"/cases/{case}"
    for path in (base, base + "/log", base + "/exports", f"{base}/exhibits/{open_one}"):
        page = defence.client.get(path)
        assert page.status_code == 200, path
        assert "Disclosed-handset" in page.text or path.endswith("/exports"), path
        assert "Secret-laptop" not in page.text, path
        assert secret not in page.text, path
    for path in (
        f"{base}/exhibits/{secret}",
        f"{base}/log/{secret_seq}",
        f"{base}/log/{secret_seq}/proof.json",
    ):
        page = defence.client.get(path)
        assert page.status_code in (403, 404), (path, page.status_code)
        assert "Secret-laptop" not in page.text, path


def test_a_grant_from_the_web_form_for_another_states_judge_is_refused(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case = create_case(api, world, parties=("NL", "FR"))
    fr = _as(new_browser, world, "FR", "prosecutor", "pros-fr")
    before = api.get(f"/api/cases/{case}/log", headers=world.headers("NL", "prosecutor")).content
    answer = fr.post(
        f"/cases/{case}/grants",
        {"jurisdiction": "NL", "sub": "judge-x", "role": "judge"},
        page=f"/cases/{case}",
    )
    after = api.get(f"/api/cases/{case}/log", headers=world.headers("NL", "prosecutor")).content
    assert after == before, getattr(answer, "status_code", None)


def test_the_web_forms_set_a_second_hold_and_release_the_named_one(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case = create_case(api, world, parties=("NL", "DE"))
    exhibit = register_exhibit(api, world, case, by="NL", label="Handset")
    stored = api.put(
        f"/api/cases/{case}/exhibits/{exhibit}/content",
        content=b"image",
        headers={**world.headers("NL", "technician"), "Content-Type": "application/octet-stream"},
    )
    assert stored.status_code == 201
    url = f"/api/cases/{case}/exhibits/{exhibit}"
    nl_api = world.headers("NL", "prosecutor", sub="pros-nl")
    held = api.post(url + "/hold", json={"reason": "r", "authority": "NL order"}, headers=nl_api)
    assert held.status_code == 200
    nl_hold = held.json()["hold"]
    # DE's prosecutor wants a hold of DE's own while NL's is in force (several holds may be
    # open: otherwise NL's release and disposal would leave DE's order unprotected).
    de = _as(new_browser, world, "DE", "prosecutor", "pros-de")
    page = f"/cases/{case}/exhibits/{exhibit}"
    assert f'action="{page}/hold"' in de.client.get(page).text
    answer = de.post(page + "/hold", {"reason": "DE order 7", "authority": "DE order 7"}, page=page)
    assert getattr(answer, "status_code", None) == 303
    shown = api.get(url, headers=nl_api).json()
    assert len(shown["holds"]) == 2
    de_hold = next(h["hold"] for h in shown["holds"] if h["hold"] != nl_hold)
    # Each state is offered the release of its own hold only.
    assert f'name="hold" value="{nl_hold}"' not in de.client.get(page).text
    assert f'name="hold" value="{de_hold}"' in de.client.get(page).text
    # NL releases its own hold from the page, naming it; DE's stays in force.
    nl = _as(new_browser, world, "NL", "prosecutor", "pros-nl")
    answer = nl.post(page + "/hold/release", {"reason": "done", "hold": str(nl_hold)}, page=page)
    assert getattr(answer, "status_code", None) == 303
    shown = api.get(url, headers=nl_api).json()
    assert [h["hold"] for h in shown["holds"]] == [de_hold]
    disposed = api.post(
        url + "/dispose", json={"reason": "closed", "authority": "x"}, headers=nl_api
    )
    assert disposed.status_code == 409


def test_a_grant_from_the_web_discloses_only_the_exhibits_chosen(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case = create_case(api, world, parties=("NL", "DE"))
    chosen = register_exhibit(api, world, case, by="NL", label="Chosen-one")
    other = register_exhibit(api, world, case, by="NL", label="Not-disclosed")
    nl = _as(new_browser, world, "NL", "prosecutor", "pros-nl")
    page = f"/cases/{case}"
    form = nl.client.get(page).text
    assert f'name="exhibits" value="{chosen}"' in form
    answer = nl.post(
        page + "/grants",
        {"jurisdiction": "NL", "sub": "adv", "role": "defence", "exhibits": [chosen]},
        page=page,
    )
    assert getattr(answer, "status_code", None) == 303
    shown = api.get(f"/api/cases/{case}", headers=world.headers("NL", "prosecutor")).json()
    assert [(g["sub"], g["exhibits"]) for g in shown["grants"]] == [("adv", [chosen])]
    # The page says what the grant discloses, not "the whole case".
    grants = nl.client.get(page).text.split('id="grants-h"')[1].split("</table>")[0]
    assert "the whole case" not in grants
    assert chosen[:8] in grants
    assert other[:8] not in grants
    defence = world.headers("NL", "defence", sub="adv")
    listed = api.get(f"/api/cases/{case}/exhibits", headers=defence).json()["items"]
    assert [x["id"] for x in listed] == [chosen]


def test_the_web_proposes_a_party_and_the_others_consent_on_the_page(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case = create_case(api, world, parties=("NL", "DE"))
    page = f"/cases/{case}"
    nl = _as(new_browser, world, "NL", "prosecutor", "pros-nl")
    # No remove button for another state: no state removes another (it would be a 403).
    assert (
        'name="jurisdiction" value="DE"' not in nl.client.get(page).text.split('id="grants-h"')[0]
    )
    answer = nl.post(page + "/parties", {"jurisdiction": "FR"}, page=page)
    assert getattr(answer, "status_code", None) == 303
    after = nl.client.get(page).text
    # A proposal is not an addition: the page must not say FR was added.
    assert "The state was added as a party." not in after
    shown = api.get(page.replace("/cases", "/api/cases"), headers=world.headers("NL", "prosecutor"))
    assert shown.json()["parties"] == ["DE", "NL"]
    [proposal] = shown.json()["proposals"]
    de = _as(new_browser, world, "DE", "prosecutor", "pros-de")
    form = de.client.get(page).text
    approve = f"{page}/parties/proposals/{proposal['seq']}/approve"
    assert f'action="{approve}"' in form
    answer = de.post(approve, {}, page=page)
    assert getattr(answer, "status_code", None) == 303
    shown = api.get(page.replace("/cases", "/api/cases"), headers=world.headers("NL", "prosecutor"))
    assert shown.json()["parties"] == ["DE", "FR", "NL"]
    assert "The state was added as a party." in de.client.get(page).text


def test_the_case_page_offers_revoking_only_the_grants_ones_own_state_gave(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case = create_case(api, world, parties=("NL", "FR"))
    for code, sub in (("NL", "rechter"), ("FR", "juge")):
        granted = api.post(
            f"/api/cases/{case}/access",
            json={"jurisdiction": code, "sub": sub, "role": "judge"},
            headers=world.headers(code, "prosecutor"),
        )
        assert granted.status_code == 201
    page = _as(new_browser, world, "FR", "prosecutor", "pros-fr").client.get(f"/cases/{case}")
    revokes = page.text.count("/grants/revoke")
    assert revokes == 1
    assert 'name="sub" value="juge"' in page.text
    assert 'name="sub" value="rechter"' not in page.text


def test_the_grants_table_shows_defence_no_id_of_an_exhibit_not_disclosed_to_it(
    new_browser: NewBrowser, world: World
) -> None:
    api = new_browser().client
    case = create_case(api, world, parties=("NL", "DE"))
    mine = register_exhibit(api, world, case, by="NL", label="Mine")
    theirs = register_exhibit(api, world, case, by="NL", label="Theirs")
    nl = world.headers("NL", "prosecutor")
    for sub, exhibits in (("adv-a", [mine]), ("adv-b", [theirs, mine]), ("rechter", [theirs])):
        role = "judge" if sub == "rechter" else "defence"
        body = {"jurisdiction": "NL", "sub": sub, "role": role, "exhibits": exhibits}
        assert api.post(f"/api/cases/{case}/access", json=body, headers=nl).status_code == 201
    page = _as(new_browser, world, "NL", "defence", "adv-a").client.get(f"/cases/{case}").text
    assert theirs[:8] not in page
    assert mine[:8] in page
    judge = _as(new_browser, world, "NL", "judge", "rechter").client.get(f"/cases/{case}").text
    assert theirs[:8] in judge
