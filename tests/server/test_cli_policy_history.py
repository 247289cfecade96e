"""`jitc jurisdiction witness` logs the policy of the state's cases; `jitc export` says how
far a bundle reaches (spec 6 warnings)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest

from custody.cosignature import CosignatureSigner
from custody.entry import SYSTEM_ACTOR, Entry
from custody.note import NoteSigner
from custody.policy import build_policy
from server.cli.court import coverage_lines
from server.cli.timeline import meaning
from server.config import Settings
from server.db import read_transaction, write_transaction
from server.repositories import cases as case_repo
from server.repositories import log as log_repo
from server.services.custody_log import CaseLog
from server.services.workspace import Workspace
from tests.server.test_cli import _authority, _run, env

__all__ = ["env"]  # the fixture, shared with test_cli


def test_a_bundle_that_stops_early_says_so_and_names_the_witness() -> None:
    lines = coverage_lines({"tree_size": 7, "log_size": 10, "not_cosigned": ["DE-1"]})
    assert lines[0].startswith(
        "the bundle stops before the newest entry: it holds entries 0..6 of 10"
    )
    assert "not cosigned by DE-1" in lines[0]
    assert "export again" in lines[1]
    whole = coverage_lines({"tree_size": 10, "log_size": 10, "not_cosigned": []})
    assert whole == ["the bundle holds every entry of the log (10)"]
    met = coverage_lines({"tree_size": 10, "log_size": 10, "not_cosigned": ["FR-1"]})
    assert met == [
        "the bundle holds every entry of the log (10) (the quorum was met; not cosigned by FR-1)"
    ]
    assert coverage_lines({"tree_size": None, "log_size": None}) == []  # pending, refused
    alone = coverage_lines({"tree_size": 4, "log_size": 4, "not_cosigned": [], "witnesses": []})
    assert alone[0].startswith("no witness cosigned this bundle")
    assert alone[1] == "the bundle holds every entry of the log (4)"


def test_registering_and_removing_a_witness_on_the_command_line_logs_the_policy(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _authority(tmp_path / "NL", capsys, "NL")
    argv = ["jurisdiction", "add", "NL", "--name", "Netherlands"]
    assert _run(capsys, *argv, "--issuer-jwk", str(keys / "NL.jwk.json"))[0] == 0
    ws = Workspace.open(env)
    try:
        # A case from before the policy history: no case.policy_set yet.
        case_id = "6f0c2a4e-3f6b-4d7e-9a1b-2c3d4e5f6a7b"
        with write_transaction(ws.engine) as conn:
            case_repo.insert_case(
                conn, case_id=case_id, title="t", agreement="", now=datetime.now(UTC), by="NL"
            )
            case_repo.add_parties(conn, case_id, ["NL"])
            log = CaseLog.new(conn, case_id, ws.signer)
            log.append(
                SYSTEM_ACTOR,
                "case.created",
                data={"title": "t", "parties": ["NL"], "agreement": ""},
            )
            log.flush()
        status, _, err = _run(
            capsys, "witness", "init", "--name", "NL-1", "--out", str(tmp_path / "w")
        )
        assert status == 0, err
        vkey = (tmp_path / "w" / "witness.vkey").read_text().strip()
        status, _, err = _run(capsys, "jurisdiction", "witness", "NL", "--remove", "--vkey", vkey)
        assert status == 1
        assert "either --url and --vkey, or --remove" in err
        status, _, err = _run(capsys, "jurisdiction", "witness", "NL", "--vkey", vkey)
        assert status == 1
        assert "both --url and --vkey" in err
        argv = ["jurisdiction", "witness", "NL", "--url", "http://127.0.0.1:7380/", "--vkey", vkey]
        status, out, err = _run(capsys, *argv)
        assert status == 0, err
        assert "NL-1" in out
        status, out, _ = _run(capsys, "jurisdiction", "witness", "NL", "--remove")
        assert (status, out.strip()) == (0, "NL: witness removed")
        status, out, _ = _run(capsys, "jurisdiction", "witness", "NL", "--remove")
        assert (status, out.strip()) == (0, "NL: witness was not registered")
        with read_transaction(ws.engine) as conn:
            rows = log_repo.entries(conn, case_id, 0, 3)
        entries = [Entry.parse(raw) for raw in rows]
        assert [e.type for e in entries] == ["case.created", "case.policy_set", "case.policy_set"]
        assert "witness NL-1 " in entries[1].data["policy"]
        assert entries[2].data["policy"].endswith("quorum none\n")
    finally:
        ws.close()


def test_the_timeline_says_who_must_cosign() -> None:
    log_vkey = NoteSigner.generate("jitc.test/case/x").vkey()
    named = [(n, CosignatureSigner.generate(n).vkey()) for n in ("DE-1", "NL-1")]

    def said(quorum: int | Literal["all"] | None, witnesses: list[tuple[str, str]]) -> str:
        policy = build_policy(log_vkey, witnesses, quorum=quorum).to_text()
        entry = {"type": "case.policy_set", "exhibit": None, "data": {"policy": policy}}
        return meaning(entry, {})

    assert said("all", named) == "witness policy: witnesses DE-1, NL-1; all 2 must cosign"
    assert said(1, named) == "witness policy: witnesses DE-1, NL-1; 1 of 2 must cosign"
    assert said(None, []) == "witness policy: no witnesses (checkpoints rest on the log key alone)"
