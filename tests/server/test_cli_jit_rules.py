"""The client commands that need the revised JIT rules of the API (spec 2.1: party
consent, holds by seq, grants that list exhibits): case propose-party and approve,
exhibit hold and release, grant --exhibit. Run in this process against a real
`jitc serve`, as in test_cli_workspace.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.cli_support import RULES_COMMANDS, LiveServer, live_server, one_line_failure
from tests.server.test_cli_workspace import (
    BE_PROSECUTOR,
    FR_PROSECUTOR,
    NL_JUDGE,
    NL_PROSECUTOR,
    Jitc,
    _command_of,
    _own_folders,
    new_case,
    uploaded,
)

pytestmark = pytest.mark.slow

__all__ = ["_own_folders"]  # the autouse fixture of the workspace tests, used here too


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("cli-rules")) as live:
        yield live


@pytest.fixture
def jitc(server: LiveServer, capsys: pytest.CaptureFixture[str]) -> Jitc:
    return Jitc(server, capsys)


def test_these_are_the_commands_left_out_of_the_workspace_tests() -> None:
    tested = {
        _command_of(("case", "propose-party")),
        _command_of(("case", "approve")),
        _command_of(("exhibit", "hold")),
        _command_of(("exhibit", "release")),
    }
    assert tested == RULES_COMMANDS


def test_a_party_is_added_once_every_party_consents(jitc: Jitc) -> None:
    case = new_case(jitc, "Op Consent", "NL", "BE")
    proposed = jitc.json(NL_PROSECUTOR, "case", "propose-party", case[:8], "FR")
    assert proposed["pending"] == ["BE"]
    seq = proposed["proposal"]
    shown = jitc.ok(NL_PROSECUTOR, "case", "show", case[:8]).lines()
    assert f"proposed   FR (proposal {seq}, by NL; waiting for BE)" in shown
    pending = jitc.json(NL_PROSECUTOR, "case", "show", case[:8])["proposals"]
    assert [(p["seq"], p["jurisdiction"], p["pending"]) for p in pending] == [(seq, "FR", ["BE"])]
    # The proposer's state consented by proposing: its approval is refused.
    line = one_line_failure(jitc(NL_PROSECUTOR, "case", "approve", case[:8], "FR"))
    assert "the server answered 403" in line
    # BE consents, naming the proposed state: FR is a party now.
    out = jitc.ok(BE_PROSECUTOR, "case", "approve", case[:8], "FR").out
    assert out.startswith("FR is a party now (entry ")
    assert "FR" in jitc.json(FR_PROSECUTOR, "case", "show", case[:8])["parties"]
    line = one_line_failure(jitc(BE_PROSECUTOR, "case", "approve", case[:8], "FR"))
    assert line == "jitc: no pending proposal to add FR to this case"


def test_propose_and_approve_print_the_servers_answer_with_json(jitc: Jitc) -> None:
    case = new_case(jitc, "Op Consent JSON", "NL", "BE")
    proposed = jitc.json(BE_PROSECUTOR, "case", "propose-party", case[:8], "FR")
    assert set(proposed) == {"proposal", "pending"}
    text = jitc.ok(BE_PROSECUTOR, "case", "show", case[:8]).out
    assert f"proposal {proposed['proposal']}" in text
    added = jitc.json(NL_PROSECUTOR, "case", "approve", case[:8], str(proposed["proposal"]))
    assert set(added) == {"proposal", "added", "jurisdiction"}
    assert (added["proposal"], added["jurisdiction"]) == (proposed["proposal"], "FR")
    # In a case with one party, a proposal adds at once (201).
    alone = new_case(jitc, "Op Alone", "NL")
    out = jitc.ok(NL_PROSECUTOR, "case", "propose-party", alone[:8], "BE").out
    assert out.startswith("BE is a party now (entry ")


def test_a_withdrawing_state_ends_the_grants_it_gave(jitc: Jitc) -> None:
    case = new_case(jitc, "Op Withdraw", "NL", "BE")
    jitc.ok(BE_PROSECUTOR, "grant", case[:8], "--sub", "judge-be", "--role", "judge")
    jitc.ok(BE_PROSECUTOR, "case", "withdraw", case[:8])
    shown = jitc.json(NL_PROSECUTOR, "case", "show", case[:8])
    assert shown["parties"] == ["NL"]
    assert shown["grants"] == []
    types = [line.split("  ")[-1] for line in jitc.ok(NL_PROSECUTOR, "log", case).lines()]
    assert any(t.startswith("revoked the grant of judge BE/judge-be") for t in types)


def test_holds_are_released_by_seq_by_the_state_that_set_them(jitc: Jitc, tmp_path: Path) -> None:
    case = new_case(jitc, "Op Hold", "NL", "BE")
    exhibit, _data = uploaded(jitc, tmp_path, case)
    first = jitc.json(
        NL_PROSECUTOR,
        "exhibit",
        "hold",
        case[:8],
        exhibit[:8],
        "--reason",
        "pending trial",
        "--authority",
        "Rb Amsterdam 2026/17",
    )
    assert first["type"] == "exhibit.hold_set"
    assert first["hold"] == first["seq"]
    out = jitc.ok(
        BE_PROSECUTOR,
        "exhibit",
        "hold",
        case[:8],
        exhibit[:8],
        "--reason",
        "BE order",
        "--authority",
        "Rb Antwerpen",
    ).out
    second = int(out.split()[1])
    assert out == f"hold {second} set on {exhibit[:8]} (entry {second})\n"
    # Two holds open: the one to release must be named.
    line = one_line_failure(
        jitc(NL_PROSECUTOR, "exhibit", "release", case[:8], exhibit[:8], "--reason", "done")
    )
    assert line == (
        f"jitc: exhibit {exhibit[:8]} has 2 open holds ({first['hold']}, {second}): "
        "name one with --hold"
    )
    # NL cannot release BE's hold.
    line = one_line_failure(
        jitc(
            NL_PROSECUTOR,
            "exhibit",
            "release",
            case[:8],
            exhibit[:8],
            "--reason",
            "done",
            "--hold",
            str(second),
        )
    )
    assert line.endswith("(hold_other_state)")
    released = jitc.json(
        NL_PROSECUTOR,
        "exhibit",
        "release",
        case[:8],
        exhibit[:8],
        "--reason",
        "trial over",
        "--hold",
        str(first["hold"]),
    )
    assert released["type"] == "exhibit.hold_released"
    # One hold left (BE's): released without naming it.
    last = jitc.ok(BE_PROSECUTOR, "exhibit", "release", case[:8], exhibit[:8], "--reason", "ok")
    assert last.out.startswith(f"hold {second} on {exhibit[:8]} released (entry ")
    line = one_line_failure(
        jitc(BE_PROSECUTOR, "exhibit", "release", case[:8], exhibit[:8], "--reason", "ok")
    )
    assert line == f"jitc: exhibit {exhibit[:8]} has no open hold"
    timeline = jitc.ok(NL_PROSECUTOR, "log", case[:8], "--type", "exhibit.hold_released")
    assert [line.split("  ")[-1].split(":")[0] for line in timeline.lines()] == [
        f'released the hold {first["hold"]} on {exhibit[:8]} "NL-001 handset"',
        f'released the hold {second} on {exhibit[:8]} "NL-001 handset"',
    ]


def test_disposal_is_refused_while_a_hold_is_open(jitc: Jitc, tmp_path: Path) -> None:
    case = new_case(jitc, "Op Held", "NL", "BE")
    exhibit, _data = uploaded(jitc, tmp_path, case)
    jitc.ok(
        NL_PROSECUTOR,
        "exhibit",
        "hold",
        case[:8],
        exhibit[:8],
        "--reason",
        "trial",
        "--authority",
        "Rb",
    )
    line = one_line_failure(
        jitc(
            NL_PROSECUTOR,
            "exhibit",
            "dispose",
            case[:8],
            exhibit[:8],
            "--reason",
            "x",
            "--authority",
            "y",
        )
    )
    assert line.endswith("(exhibit_on_hold)")


def test_a_grant_lists_the_exhibits_it_discloses(jitc: Jitc, tmp_path: Path) -> None:
    case = new_case(jitc, "Op Scope", "NL", "BE")
    disclosed, _data = uploaded(jitc, tmp_path, case)
    other, _data = uploaded(jitc, tmp_path, case)
    result = jitc.json(
        NL_PROSECUTOR,
        "grant",
        case[:8],
        "--sub",
        "judge-nl",
        "--role",
        "judge",
        "--exhibit",
        disclosed[:6],
    )
    assert result["type"] == "case.access_granted"
    [grant] = jitc.json(NL_PROSECUTOR, "case", "show", case[:8])["grants"]
    assert grant["exhibits"] == [disclosed]
    shown = jitc.ok(NL_PROSECUTOR, "case", "show", case[:8]).lines()
    assert f"grant      judge NL/judge-nl ({disclosed[:8]})" in shown
    # The judge reads the disclosed exhibit's content, not the other's.
    jitc.ok(NL_JUDGE, "download", case[:8], disclosed[:8], str(tmp_path / "d.bin"))
    line = one_line_failure(jitc(NL_JUDGE, "download", case[:8], other, str(tmp_path / "o.bin")))
    assert "the server answered 403" in line
    assert not (tmp_path / "o.bin").exists()
    # A state grants only what it may read itself: BE has no share of NL's exhibit.
    line = one_line_failure(
        jitc(
            BE_PROSECUTOR,
            "grant",
            case[:8],
            "--sub",
            "judge-be",
            "--role",
            "judge",
            "--exhibit",
            disclosed[:8],
        )
    )
    assert line.endswith("(not_shared)")
    line = one_line_failure(
        jitc(
            NL_PROSECUTOR,
            "grant",
            case[:8],
            "--sub",
            "j2",
            "--role",
            "judge",
            "--exhibit",
            disclosed[:8],
            "--exhibit",
            disclosed,
        )
    )
    assert line == "jitc: --exhibit names the same exhibit twice"
