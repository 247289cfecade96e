"""The client commands (case, exhibit, share, grant, note, log, export, policy, login),
run in this process against a real `jitc serve`: their text, their `--json` output
(docs/cli.md), ids given by prefix, and bad input, refusals and an unreachable server
each said in one line with a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from custody.canonical import canonical_bytes
from evidence import exhibit_key
from server import cli
from server.cli.cases import case_lines
from server.cli.client import UUID_TEXT, token_file
from server.cli.timeline import line as timeline_line
from tests.server.cli_support import (
    RULES_COMMANDS,
    LiveServer,
    Result,
    free_port,
    live_server,
    one_line_failure,
    run_jitc,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ACQUIRED = ["--tool", "UFED 7.70", "--operator", "tech-anna", "--time", "2026-11-27T09:00:00Z"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("cli-workspace")) as live:
        yield live


class Jitc:
    """`jitc` as one person: `--server` and their `--token` added to every command."""

    def __init__(self, server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
        self.server = server
        self.capsys = capsys

    def __call__(self, who: tuple[str, str], *argv: str) -> Result:
        token = self.server.token(*who, sub=f"{who[1]}-{who[0].lower()}")
        return run_jitc(self.capsys, *argv, "--server", self.server.url, "--token", token)

    def ok(self, who: tuple[str, str], *argv: str) -> Result:
        result = self(who, *argv)
        assert result.code == 0, (argv, result.out, result.err)
        assert "Traceback" not in result.err
        return result

    def json(self, who: tuple[str, str], *argv: str) -> Any:
        return self.ok(who, *argv, "--json").json()


NL_PROSECUTOR = ("NL", "prosecutor")
NL_TECHNICIAN = ("NL", "technician")
NL_JUDGE = ("NL", "judge")
BE_PROSECUTOR = ("BE", "prosecutor")
BE_INVESTIGATOR = ("BE", "investigator")
FR_PROSECUTOR = ("FR", "prosecutor")


@pytest.fixture
def jitc(server: LiveServer, capsys: pytest.CaptureFixture[str]) -> Jitc:
    return Jitc(server, capsys)


@pytest.fixture(autouse=True)
def _own_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No JITC_ setting and no token kept from outside the test."""
    for name in list(os.environ):
        if name.startswith("JITC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def new_case(jitc: Jitc, title: str = "Operation Tulip", *parties: str) -> str:
    codes = parties or ("NL", "BE")
    argv = ["case", "create", title, *(f"--party={code}" for code in codes)]
    case_id: str = jitc.json(NL_PROSECUTOR if "NL" in codes else FR_PROSECUTOR, *argv)["id"]
    return case_id


def new_exhibit(jitc: Jitc, case_id: str, label: str = "NL-001 handset") -> str:
    exhibit_id: str = jitc.json(NL_TECHNICIAN, "exhibit", "add", case_id[:8], label, *ACQUIRED)[
        "id"
    ]
    return exhibit_id


def uploaded(jitc: Jitc, tmp_path: Path, case_id: str, size: int = 70_000) -> tuple[str, bytes]:
    exhibit_id = new_exhibit(jitc, case_id)
    data = os.urandom(size)
    (tmp_path / "phone.bin").write_bytes(data)
    jitc.ok(NL_TECHNICIAN, "upload", case_id[:6], exhibit_id[:6], str(tmp_path / "phone.bin"))
    return exhibit_id, data


# --- every client command, with --json ------------------------------------------------------


def _client_commands() -> set[str]:
    """Every command that talks to a server (it takes --server), as "case show" etc."""
    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif "--server" in action.option_strings:
                assert any("--json" in a.option_strings for a in parser._actions), path
                found.add(" ".join(path))

    for area in cli.AREAS:
        walk(cli.build_parser(area), [])
    return found


def _keys(doc: dict[str, Any], *keys: str) -> None:
    assert set(keys) <= set(doc), (sorted(doc), keys)


def test_every_client_command_answers_json(
    jitc: Jitc, server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: set[str] = set()

    def js(who: tuple[str, str], *argv: str) -> Any:
        ran.add(_command_of(argv))
        return jitc.json(who, *argv)

    created = js(NL_PROSECUTOR, "case", "create", "Op Json", "--party", "NL", "--party", "BE")
    _keys(created, "id", "title", "agreement", "created_at", "created_by")
    case = created["id"]
    assert UUID_TEXT.fullmatch(case)
    assert case in [c["id"] for c in js(NL_PROSECUTOR, "case", "list")["items"]]
    shown = js(NL_PROSECUTOR, "case", "show", case[:8])
    _keys(shown, "id", "origin", "parties", "grants", "log_size")
    assert sorted(shown["parties"]) == ["BE", "NL"]

    added = js(NL_TECHNICIAN, "exhibit", "add", case[:8], "NL-001 handset", *ACQUIRED)
    _keys(added, "id", "seq")
    exhibit = added["id"]
    data = os.urandom(50_000)
    (tmp_path / "phone.bin").write_bytes(data)
    stored = js(NL_TECHNICIAN, "upload", case[:8], exhibit[:8], str(tmp_path / "phone.bin"))
    assert stored == {
        "case": case,
        "exhibit": exhibit,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "blake3": stored["blake3"],
        "already_stored": False,
    }
    [listed] = js(NL_TECHNICIAN, "exhibit", "list", case[:8])["items"]
    assert listed["id"] == exhibit
    assert listed["content"]["sha256"] == stored["sha256"]
    assert js(NL_PROSECUTOR, "share", case[:8], exhibit[:8], "--with", "BE") == {
        "seq": 4,
        "type": "exhibit.shared",
    }
    shown = js(BE_INVESTIGATOR, "exhibit", "show", case[:8], exhibit[:8])
    _keys(shown, "id", "label", "owner", "acquisition", "content", "sealed", "legal_hold")
    assert [(s["jurisdiction"], s["active"]) for s in shown["shares"]] == [("BE", True)]
    copy = tmp_path / "copy.bin"
    got = js(BE_INVESTIGATOR, "download", case[:8], exhibit[:8], str(copy))
    assert got["path"] == str(copy)
    assert got["sha256"] == stored["sha256"]
    assert copy.read_bytes() == data

    note = js(NL_PROSECUTOR, "note", case[:8], "seized at the border", "--exhibit", exhibit[:8])
    _keys(note, "id", "seq")
    grant = js(NL_PROSECUTOR, "grant", case[:8], "--sub", "judge-nl", "--role", "judge")
    assert grant["type"] == "case.access_granted"
    made = js(
        NL_PROSECUTOR,
        "export",
        case[:8],
        "--out",
        str(tmp_path / "b.zip"),
        "--recipient",
        "Rb Amsterdam",
        "--content",
    )
    _keys(made, "id", "seq", "tree_size", "bundle_sha256", "bundle_size", "case", "path")
    assert hashlib.sha256((tmp_path / "b.zip").read_bytes()).hexdigest() == made["bundle_sha256"]
    [export] = js(NL_JUDGE, "export", "list", case[:8])["items"]
    _keys(export, "id", "status", "bundle_sha256", "bundle_size", "request", "requested_by")
    fetched = js(
        NL_JUDGE, "export", "get", case[:8], made["id"][:6], "--out", str(tmp_path / "court.zip")
    )
    assert fetched["bundle_sha256"] == made["bundle_sha256"]
    assert (tmp_path / "court.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    policy = js(NL_JUDGE, "policy", "show", case[:8])
    assert policy["case"] == case
    assert policy["policy"].startswith(f"log jitc.test/case/{case}+")
    # --json of `log`: the entries as the log holds them, one canonical line each.
    lines = jitc.ok(NL_JUDGE, "log", case[:8], "--json").lines()
    ran.add("log")
    entries = [json.loads(line) for line in lines]
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    assert all(canonical_bytes(e).decode() == line for e, line in zip(entries, lines, strict=True))

    assert js(NL_PROSECUTOR, "ungrant", case[:8], "--sub", "judge-nl", "--role", "judge") == {
        "seq": grant["seq"] + 4,  # the export and the bundle reads came between
        "type": "case.access_revoked",
    }
    assert js(NL_PROSECUTOR, "unshare", case[:8], exhibit[:8], "--with", "BE")["type"] == (
        "exhibit.share_revoked"
    )
    assert js(NL_TECHNICIAN, "exhibit", "seal", case[:8], exhibit[:8], "--reason", "done")[
        "type"
    ] == ("exhibit.sealed")
    verified = js(NL_TECHNICIAN, "exhibit", "verify", case[:8], exhibit[:8])
    assert (verified["ok"], verified["sha256"]) == (True, stored["sha256"])
    disposed = js(
        NL_PROSECUTOR,
        "exhibit",
        "dispose",
        case[:8],
        exhibit[:8],
        "--reason",
        "case closed",
        "--authority",
        "Rb Amsterdam 2026/17",
    )
    _keys(disposed, "seq", "type", "removed", "retained_until")
    assert js(BE_PROSECUTOR, "case", "withdraw", case[:8])["type"] == "case.party_removed"

    token = server.token("NL", "investigator", "inv-nl")
    login = run_jitc(jitc.capsys, "login", "--server", server.url, "--token", token, "--json")
    assert login.code == 0, login.err
    logged = login.json()
    assert (logged["jurisdiction"], logged["sub"], logged["role"]) == (
        "NL",
        "inv-nl",
        "investigator",
    )
    assert logged["server"] == server.url
    assert Path(logged["path"]).is_file()
    logout = run_jitc(jitc.capsys, "logout", "--server", server.url, "--json")
    assert logout.json() == {"server": server.url, "removed": True}
    ran.update({"login", "logout"})

    assert ran == _client_commands() - RULES_COMMANDS


def _command_of(argv: tuple[str, ...]) -> str:
    """The command an argv runs: "case show", "share", "export create" (implied)..."""
    words = [w for w in argv if not w.startswith("-")]
    if words[0] == "export" and words[1] not in ("create", "list", "get"):
        return "export create"
    return " ".join(words[:2]) if words[0] in ("case", "exhibit", "export", "policy") else words[0]


def test_the_json_of_every_client_command_is_documented() -> None:
    doc = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in sorted(_client_commands()):
        assert f"`jitc {command}" in doc, command


# --- people read one line per thing -----------------------------------------------------------


def test_case_and_exhibit_commands_print_one_line_per_thing(jitc: Jitc, tmp_path: Path) -> None:
    result = jitc.ok(
        NL_PROSECUTOR,
        "case",
        "create",
        "Op Text",
        "--party",
        "NL",
        "--party",
        "BE",
        "--agreement",
        "JIT-2026-17",
    )
    match = re.fullmatch(rf"case ({UUID_TEXT.pattern}) opened: Op Text \(NL, BE\)\n", result.out)
    assert match is not None, result.out
    case = match[1]
    listed = [
        re.split(r"\s{2,}", line)
        for line in jitc.ok(NL_PROSECUTOR, "case", "list").lines()
        if line.startswith(case[:8])
    ]
    assert listed == [[case[:8], listed[0][1], "Op Text", "JIT-2026-17"]]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", listed[0][1])
    shown = jitc.ok(NL_PROSECUTOR, "case", "show", case[:5]).lines()
    assert f"case       {case}" in shown
    assert "parties    BE NL" in shown
    assert "log        2 entries" in shown  # case.created, case.policy_set

    result = jitc.ok(
        NL_TECHNICIAN,
        "exhibit",
        "add",
        case[:5],
        "NL-002 laptop",
        *ACQUIRED,
        "--hash",
        "sha256=" + "ab" * 32,
        "--field",
        "location=Utrecht",
    )
    exhibit = result.out.split()[1]
    assert result.out == f"exhibit {exhibit} registered: NL-002 laptop (entry 2)\n"
    assert jitc.ok(NL_TECHNICIAN, "exhibit", "list", case[:5]).lines() == [
        f"{exhibit[:8]}  NL  NL-002 laptop  no content  -"
    ]
    shown = jitc.ok(NL_TECHNICIAN, "exhibit", "show", case[:5], exhibit[:5]).lines()
    assert "acquired     location: Utrecht" in shown
    assert "acquired     sha256 " + "ab" * 32 in shown
    assert "content      none stored" in shown
    assert jitc.ok(
        NL_PROSECUTOR,
        "share",
        case[:5],
        exhibit[:5],
        "--with",
        "BE",
        "--conditions",
        "JIT use only",
    ).out == (f"{exhibit[:8]} shared with BE (entry 3)\n")
    shown = jitc.ok(BE_INVESTIGATOR, "exhibit", "show", case[:5], exhibit[:5]).lines()
    assert "shared with  BE: active; conditions: JIT use only" in shown


def test_text_from_the_server_cannot_drive_the_terminal() -> None:
    """Titles, labels and reasons are people's text: an escape sequence or a
    right-to-left override in them is shown, never obeyed by the terminal."""
    title = "Op \x1b[31mRed\x1b[0m \u202etxt.exe"
    case = "5c1e0d7a-0000-4000-8000-000000000000"
    shown = "\n".join(case_lines({"id": case, "title": title, "parties": ["NL"]}))
    entry = {
        "seq": 0,
        "time": "2026-12-04T10:00:00.000000Z",
        "actor": {"jurisdiction": "NL", "sub": "eva\x1b[2J", "role": "prosecutor"},
        "type": "case.created",
        "exhibit": None,
        "data": {"title": title, "parties": ["NL"], "agreement": ""},
    }
    for text in (shown, timeline_line(entry, {})):
        assert "\x1b" not in text
        assert "\u202e" not in text
        assert "Op <U+001B>[31mRed<U+001B>[0m <U+202E>txt.exe" in text
    assert "NL/eva<U+001B>[2J (prosecutor)" in timeline_line(entry, {})


# --- ids by prefix ------------------------------------------------------------------------


def test_an_unknown_or_malformed_prefix_is_one_line(jitc: Jitc) -> None:
    case = new_case(jitc)
    gone = "f" * 7 if not case.startswith("fffffff") else "0" * 7
    line = one_line_failure(jitc(NL_PROSECUTOR, "exhibit", "list", gone))
    assert line.startswith(f"jitc: no case id starts with {gone} (of the ")
    line = one_line_failure(jitc(NL_PROSECUTOR, "exhibit", "show", case[:8], "abcd"))
    assert line == "jitc: no exhibit id starts with abcd (of the 0 exhibits you can see)"
    line = one_line_failure(jitc(NL_PROSECUTOR, "case", "show", "Op-Tulip"))
    assert "'Op-Tulip' is not a case id or the start of one" in line


def test_an_ambiguous_prefix_names_the_candidates(jitc: Jitc) -> None:
    # Cases that only FR sees: 17 of them share a first character (pigeonhole).
    firsts: dict[str, list[str]] = {}
    while not any(len(ids) > 1 for ids in firsts.values()):
        case = new_case(jitc, "Op FR", "FR")
        firsts.setdefault(case[0], []).append(case)
    first, ids = next((c, ids) for c, ids in firsts.items() if len(ids) > 1)
    result = jitc(FR_PROSECUTOR, "case", "show", first, "--json")
    line = one_line_failure(result)
    assert re.match(rf"jitc: {first} starts \d+ case ids \(.+\): give more characters$", line)
    for case in ids:
        assert case[:12] in line
    assert result.json()["error"]["exit"] == 1
    # A longer prefix picks one.
    assert jitc.json(FR_PROSECUTOR, "case", "show", ids[0][:13])["id"] == ids[0]


# --- refusals, bad input, no server ----------------------------------------------------------


def test_a_refusal_prints_the_servers_message_and_code(jitc: Jitc) -> None:
    case = new_case(jitc)
    line = one_line_failure(jitc(FR_PROSECUTOR, "case", "show", case))
    assert line.startswith("jitc: reading the case: the server answered 403: ")
    assert line.endswith("(case_forbidden)")
    result = jitc(FR_PROSECUTOR, "case", "show", case, "--json")
    one_line_failure(result)
    error = result.json()["error"]
    assert (error["status"], error["code"], error["exit"]) == (403, "case_forbidden", 1)
    assert error["message"] == line.removeprefix("jitc: ")
    # The server's refusal of the body comes back the same way.
    line = one_line_failure(jitc(NL_PROSECUTOR, "case", "create", "Op", "--party", "BE"))
    assert line.endswith("(creator_not_party)")


def test_bad_input_is_refused_before_anything_is_sent(jitc: Jitc) -> None:
    case = new_case(jitc)
    for argv, says in [
        (["exhibit", "add", case, "X", *ACQUIRED[:4], "--time", "yesterday"], "RFC 3339"),
        (
            ["exhibit", "add", case, "X", *ACQUIRED[:4], "--time", "2026-11-27T09:00:00"],
            "time zone",
        ),
        (["exhibit", "add", case, "X", *ACQUIRED, "--hash", "sha256=xyz"], "ALG=HEX"),
        (["exhibit", "add", case, "X", *ACQUIRED, "--field", "tool=other"], "NAME=VALUE"),
        (["case", "create", "Op", "--party", "nl"], "not a state's code"),
        (["grant", case, "--sub", "j", "--role", "prosecutor"], "invalid choice"),
        (["log", case, "--interval", "0"], "seconds"),
        (["case", "frobnicate"], "invalid choice"),
    ]:
        line = one_line_failure(jitc(NL_PROSECUTOR, *argv), code=2)
        assert says in line, (argv, line)
        assert line.endswith("--help)"), line
    assert jitc.json(NL_PROSECUTOR, "case", "show", case)["log_size"] == 2  # nothing logged


def test_an_unreachable_or_malformed_server_is_one_line(
    jitc: Jitc, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = run_jitc(capsys, "case", "list", "--server", closed, "--token", "t", "--json")
    line = one_line_failure(result)
    assert line.startswith(f"jitc: cannot reach {closed}: ")
    assert result.json()["error"]["exit"] == 1
    line = one_line_failure(
        run_jitc(capsys, "case", "list", "--server", "127.0.0.1:8000", "--token", "t"), code=2
    )
    assert "the server must be a URL like http://127.0.0.1:8000" in line
    line = one_line_failure(
        run_jitc(capsys, "case", "list", "--server", closed, "--token", "a b"), code=2
    )
    assert "not a token" in line


def test_a_missing_token_names_every_way_to_give_one(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_failure(run_jitc(capsys, "case", "list"), code=2)
    assert "--token" in line
    assert "JITC_TOKEN" in line
    assert "jitc login" in line
    assert "http://127.0.0.1:8000" in line  # the default server


# --- exhibits: state changes --------------------------------------------------------------------


def test_verify_exits_1_when_the_stored_content_was_altered(
    jitc: Jitc, server: LiveServer, tmp_path: Path
) -> None:
    case = new_case(jitc)
    exhibit, _data = uploaded(jitc, tmp_path, case)
    intact = jitc.ok(NL_TECHNICIAN, "exhibit", "verify", case[:8], exhibit[:8]).out
    assert re.fullmatch(
        rf"{exhibit[:8]} intact: 68\.4 KiB sha256 [0-9a-f]{{64}} as recorded "
        r"\(entry \d+\)\n",
        intact,
    )
    path = server.data_dir / "evidence" / "objects" / exhibit_key(case, exhibit).path
    path.chmod(0o644)  # stored objects are read-only
    with path.open("r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    path.chmod(0o444)
    result = jitc(NL_TECHNICIAN, "exhibit", "verify", case[:8], exhibit[:8])
    assert one_line_failure(result).startswith(f"{exhibit[:8]} STORAGE ALTERED")
    result = jitc(NL_TECHNICIAN, "exhibit", "verify", case[:8], exhibit[:8], "--json")
    assert result.code == 1
    assert result.json()["ok"] is False


def test_notes_from_an_argument_or_from_stdin(jitc: Jitc, monkeypatch: pytest.MonkeyPatch) -> None:
    case = new_case(jitc)
    exhibit = new_exhibit(jitc, case)
    assert jitc.ok(NL_PROSECUTOR, "note", case[:8], "call the lab").out.startswith(
        f"note added to case {case[:8]} (entry "
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("seized at the border\nsecond line\n"))
    out = jitc.ok(NL_TECHNICIAN, "note", case[:8], "-", "--exhibit", exhibit[:8]).out
    assert out.startswith(f"note added to exhibit {exhibit[:8]} (entry ")
    entries = [json.loads(x) for x in jitc.ok(NL_PROSECUTOR, "log", case, "--json").lines()]
    notes = [e for e in entries if e["type"] == "note.added"]
    assert [n["exhibit"] for n in notes] == [None, exhibit]
    monkeypatch.setattr("sys.stdin", io.StringIO("  \n"))
    assert one_line_failure(jitc(NL_PROSECUTOR, "note", case, "-")) == "jitc: the note is empty"


def test_grant_and_ungrant_name_the_callers_state(jitc: Jitc) -> None:
    case = new_case(jitc)
    out = jitc.ok(NL_PROSECUTOR, "grant", case[:8], "--sub", "judge-bakker", "--role", "judge")
    assert out.out == (
        f"granted judge NL/judge-bakker (all exhibits) access to case {case[:8]} (entry 2)\n"
    )
    grants = jitc.json(NL_PROSECUTOR, "case", "show", case)["grants"]
    assert [(g["jurisdiction"], g["sub"], g["role"]) for g in grants] == [
        ("NL", "judge-bakker", "judge")
    ]
    shown = jitc.ok(NL_PROSECUTOR, "case", "show", case[:8]).lines()
    assert "grant      judge NL/judge-bakker (all exhibits)" in shown
    out = jitc.ok(NL_PROSECUTOR, "ungrant", case[:8], "--sub", "judge-bakker", "--role", "judge")
    assert out.out == (
        f"revoked the access of judge NL/judge-bakker to case {case[:8]} (entry 3)\n"
    )
    line = one_line_failure(
        jitc(NL_PROSECUTOR, "ungrant", case[:8], "--sub", "judge-bakker", "--role", "judge")
    )
    assert line.endswith("(grant_not_found)")


def test_withdraw_removes_the_callers_own_state(jitc: Jitc) -> None:
    case = new_case(jitc)
    out = jitc.ok(BE_PROSECUTOR, "case", "withdraw", case[:8]).out
    assert out == f"BE withdrew from case {case[:8]} (entry 2)\n"
    assert jitc.json(NL_PROSECUTOR, "case", "show", case)["parties"] == ["NL"]
    line = one_line_failure(jitc(NL_PROSECUTOR, "case", "withdraw", case[:8]))
    assert "(last_party)" in line


# --- the log ------------------------------------------------------------------------------------


def test_log_is_a_timeline_one_line_per_entry(jitc: Jitc, tmp_path: Path) -> None:
    case = new_case(jitc)
    exhibit, data = uploaded(jitc, tmp_path, case)
    jitc.ok(NL_PROSECUTOR, "share", case[:8], exhibit[:8], "--with", "BE", "--conditions", "JIT")
    jitc.ok(
        BE_INVESTIGATOR,
        "download",
        case[:8],
        exhibit[:8],
        str(tmp_path / "c.bin"),
        "--purpose",
        "analysis",
    )
    lines = jitc.ok(NL_PROSECUTOR, "log", case[:8]).lines()
    line = re.compile(r"\s+(\d+)  (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)  (\S+ \(\w+\))  (.+)")
    parsed = [match.groups() for match in map(line.fullmatch, lines) if match]
    assert len(parsed) == len(lines) == 6, lines
    sha256 = hashlib.sha256(data).hexdigest()
    assert [(seq, who, what) for seq, _when, who, what in parsed] == [
        ("0", "NL/prosecutor-nl (prosecutor)", 'opened case "Operation Tulip": parties NL, BE'),
        (
            "1",
            "NL/prosecutor-nl (prosecutor)",
            "witness policy: no witnesses (checkpoints rest on the log key alone)",
        ),
        (
            "2",
            "NL/technician-nl (technician)",
            f'registered exhibit {exhibit[:8]} "NL-001 handset" (owner NL)',
        ),
        (
            "3",
            "NL/technician-nl (technician)",
            (
                f'stored the content of {exhibit[:8]} "NL-001 handset": 68.4 KiB, '
                f"sha256 {sha256[:16]}…"
            ),
        ),
        (
            "4",
            "NL/prosecutor-nl (prosecutor)",
            f'shared {exhibit[:8]} "NL-001 handset" with BE (conditions: JIT)',
        ),
        (
            "5",
            "BE/investigator-be (investigator)",
            f'read {exhibit[:8]} "NL-001 handset" for "analysis"',
        ),
    ]
    accessed = jitc.ok(NL_PROSECUTOR, "log", case[:8], "--type", "exhibit.accessed").lines()
    assert [text.split()[0] for text in accessed] == ["5"]
    family = jitc.ok(NL_PROSECUTOR, "log", case[:8], "--type", "case").lines()
    assert [text.split()[0] for text in family] == ["0", "1"]
    jitc.ok(NL_PROSECUTOR, "note", case[:8], "case note")  # an entry of no exhibit
    of_exhibit = jitc.ok(NL_PROSECUTOR, "log", case[:8], "--exhibit", exhibit[:4]).lines()
    assert [text.split()[0] for text in of_exhibit] == ["2", "3", "4", "5"]


def test_log_follow_prints_new_entries_until_ctrl_c(
    jitc: Jitc, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = new_case(jitc)
    naps: list[float] = []
    token = server.token("NL", "prosecutor", "pros-eva")

    def nap(seconds: float) -> None:
        # The wait between two polls: someone adds a note during the first; the person
        # watching presses Ctrl-C during the second.
        naps.append(seconds)
        if len(naps) == 1:
            response = httpx.post(
                f"{server.url}/api/cases/{case}/notes",
                json={"exhibit": None, "text": "while you watch"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 201, response.text
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr("server.cli.timeline.time.sleep", nap)  # the polling clock only
    result = jitc(NL_PROSECUTOR, "log", case[:8], "--follow", "--interval", "0.5")
    assert result.code == 0
    assert result.err == ""  # no traceback, no "interrupted"
    lines = result.lines()
    assert len(lines) == 3  # case.created, case.policy_set, the note
    assert lines[2].split()[0] == "2"
    assert lines[2].endswith("NL/pros-eva (prosecutor)  added a note")
    assert naps == [0.5, 0.5]


# --- export get: resumable, checked ------------------------------------------------------------


def _bundle(jitc: Jitc, tmp_path: Path) -> tuple[str, dict[str, Any], bytes]:
    case = new_case(jitc)
    uploaded(jitc, tmp_path, case, size=300_000)
    jitc.ok(NL_PROSECUTOR, "grant", case[:8], "--sub", "judge-nl", "--role", "judge")
    made = jitc.json(
        NL_PROSECUTOR,
        "export",
        case[:8],
        "--out",
        str(tmp_path / "made.zip"),
        "--recipient",
        "Rb",
        "--content",
    )
    return case, made, (tmp_path / "made.zip").read_bytes()


def test_export_get_resumes_what_an_earlier_run_left(
    jitc: Jitc, server: LiveServer, tmp_path: Path
) -> None:
    case, made, bundle = _bundle(jitc, tmp_path)
    out = tmp_path / "court.zip"
    marker = {
        "server": server.url,
        "case": case,
        "export": made["id"],
        "sha256": made["bundle_sha256"],
        "size": made["bundle_size"],
    }
    out.with_name("court.zip.part").write_bytes(bundle[:100_000])  # a run that was cut off
    out.with_name("court.zip.part.json").write_text(json.dumps(marker, sort_keys=True))
    result = jitc.ok(
        NL_JUDGE, "export", "get", case[:8], made["id"][:8], "--out", str(out), "--quiet"
    )
    assert "resuming at 97.7 KiB (from court.zip.part)" in result.err
    assert out.read_bytes() == bundle
    assert not out.with_name("court.zip.part").exists()
    assert not out.with_name("court.zip.part.json").exists()
    assert result.lines() == [
        (
            f"export {made['id']}: {out} ({len(bundle)} bytes, sha256 {made['bundle_sha256']}, "
            "as recorded)"
        ),
        (
            "no witness cosigned this bundle: the case's policy had none, so it rests on the "
            "log operator's key alone"
        ),
        "the bundle holds every entry of the log (5)",
        f"check it: jitc verify {out} --policy POLICY.txt",
    ]
    line = one_line_failure(
        jitc(NL_JUDGE, "export", "get", case[:8], made["id"][:8], "--out", str(out))
    )
    assert line == f"jitc: {out} exists (use --force to replace it)"


def test_export_get_keeps_nothing_that_is_not_the_recorded_bundle(
    jitc: Jitc, server: LiveServer, tmp_path: Path
) -> None:
    case, made, bundle = _bundle(jitc, tmp_path)
    out = tmp_path / "court.zip"
    marker = {
        "server": server.url,
        "case": case,
        "export": made["id"],
        "sha256": made["bundle_sha256"],
        "size": made["bundle_size"],
    }
    altered = bytearray(bundle[:100_000])
    altered[500] ^= 1  # the kept part was changed on the disk
    out.with_name("court.zip.part").write_bytes(bytes(altered))
    out.with_name("court.zip.part.json").write_text(json.dumps(marker, sort_keys=True))
    result = jitc(NL_JUDGE, "export", "get", case[:8], made["id"][:8], "--out", str(out), "--quiet")
    assert result.code == 1
    assert "Traceback" not in result.err
    resumed, failed = result.err.splitlines()
    assert resumed == "resuming at 97.7 KiB (from court.zip.part)"
    assert failed.startswith("jitc: HASH MISMATCH: the downloaded bundle's SHA-256")
    assert not out.exists()
    assert not out.with_name("court.zip.part").exists()
    assert not out.with_name("court.zip.part.json").exists()


def test_export_get_of_an_unknown_export_and_by_a_stranger(jitc: Jitc, tmp_path: Path) -> None:
    case, made, _bundle_bytes = _bundle(jitc, tmp_path)
    line = one_line_failure(jitc(NL_JUDGE, "export", "get", case[:8], "0000", "--out", "x.zip"))
    assert line.startswith("jitc: no export id starts with 0000")
    # A prosecutor of another party receives the bundles of its own state only.
    line = one_line_failure(
        jitc(
            BE_PROSECUTOR, "export", "get", case[:8], made["id"], "--out", str(tmp_path / "be.zip")
        )
    )
    assert line.endswith("(export_not_found)")
    assert not (tmp_path / "be.zip").exists()
    assert jitc.ok(BE_PROSECUTOR, "export", "list", case[:8]).lines() == [
        f"no court bundles of case {case[:8]} that you may receive"
    ]


def test_policy_show_prints_or_writes_the_case_policy(jitc: Jitc, tmp_path: Path) -> None:
    case = new_case(jitc)
    text = jitc.ok(NL_PROSECUTOR, "policy", "show", case[:8]).out
    assert text.startswith(f"log jitc.test/case/{case}+")
    assert text.endswith("quorum none\n")
    out = tmp_path / "policy.txt"
    result = jitc.ok(NL_PROSECUTOR, "policy", "show", case[:8], "--out", str(out))
    assert (result.out, out.read_text()) == ("", text)
    assert list(tmp_path.glob(".policy.txt*")) == []


# --- login and logout ---------------------------------------------------------------------------


def test_login_keeps_a_checked_token_only_its_owner_can_read(
    server: LiveServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    token = server.token("NL", "prosecutor", "pros-eva")
    result = run_jitc(capsys, "login", "--server", server.url, "--token", token)
    assert result.code == 0, result.err
    assert result.out.startswith(f"logged in to {server.url} as NL/pros-eva (prosecutor) until ")
    path = token_file(server.url)
    assert path.is_relative_to(tmp_path / "config" / "jitc" / "tokens")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # Without --token or JITC_TOKEN, the kept token is used.
    result = run_jitc(capsys, "case", "create", "Op Login", "--party", "NL", "--server", server.url)
    assert result.code == 0, result.err
    # The default server has no token kept: it is not given this server's token.
    line = one_line_failure(run_jitc(capsys, "case", "list"), code=2)
    assert "none kept for http://127.0.0.1:8000" in line
    result = run_jitc(capsys, "logout", "--server", server.url)
    assert (result.code, result.out) == (0, f"logged out of {server.url}\n")
    assert not path.exists()
    result = run_jitc(capsys, "logout", "--server", server.url)
    assert (result.code, result.out) == (0, f"no token was kept for {server.url}\n")


def test_login_reads_the_token_from_stdin(
    server: LiveServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = server.token("BE", "investigator", "inv-luc")
    monkeypatch.setenv("JITC_SERVER", server.url)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    result = run_jitc(capsys, "login")
    assert result.code == 0, result.err
    assert json.loads(token_file(server.url).read_text())["token"] == token


def test_login_refuses_a_token_the_server_refuses(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = server.token("NL", "prosecutor")[:-4] + "AAAA"
    line = one_line_failure(run_jitc(capsys, "login", "--server", server.url, "--token", forged))
    assert line.startswith("jitc: checking the token: the server answered 401: ")
    assert not token_file(server.url).exists()


def test_a_kept_token_others_can_read_or_of_another_server_is_not_used(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    token = server.token("NL", "prosecutor")
    assert run_jitc(capsys, "login", "--server", server.url, "--token", token).code == 0
    path = token_file(server.url)
    path.chmod(0o644)
    line = one_line_failure(run_jitc(capsys, "case", "list", "--server", server.url), code=2)
    assert line == f"jitc: {path} can be read by others: remove it (jitc logout) and log in again"
    path.chmod(0o600)
    # A file that names another server (copied, or a name clash) is never sent here.
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "server": "https://elsewhere.example"}))
    line = one_line_failure(run_jitc(capsys, "case", "list", "--server", server.url), code=2)
    assert f"none kept for {server.url}" in line


def test_export_is_short_for_export_create(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_jitc(capsys, "export", "--help")
    assert result.code == 0
    assert "create" in result.out
    assert "`jitc export CASE ...` is short for" in " ".join(result.out.split())
    case = "00000000-0000-4000-8000-000000000000"
    line = one_line_failure(run_jitc(capsys, "export", case, "--recipient", "r"), code=2)
    assert line.startswith("jitc export create: the following arguments are required: --out")


def test_the_client_modules_load_no_server_internals() -> None:
    """The client commands talk to the API only: no database layer or app is loaded."""
    code = (
        "import sys; from server.cli import cases, exhibits, timeline, session, policy, client; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'starlette', 'alembic', 'uvicorn', 'psycopg'})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_exhibit_show_without_shares_where_the_server_does_not_show_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that answers the exhibit but not its shares (403): the exhibit is shown,
    its shares said to be hidden. A failure path, so the server is a stand-in here."""
    case, exhibit = "5c1e0d7a-0000-4000-8000-000000000000", "9b07c2d1-0000-4000-8000-000000000000"
    doc: dict[str, Any] = {
        "id": exhibit,
        "label": "NL-001",
        "owner": "NL",
        "acquisition": {},
        "content": None,
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/shares"):
            error = {"code": "forbidden", "message": "not for you"}
            return httpx.Response(403, json={"error": error})
        return httpx.Response(200, json=doc)

    real = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        return real(transport=httpx.MockTransport(answer), **kwargs)

    monkeypatch.setattr("server.cli.client.httpx.Client", client)
    argv = ["exhibit", "show", case, exhibit, "--server", "http://x", "--token", "t"]
    result = run_jitc(capsys, *argv)
    assert result.code == 0, result.err
    assert "shared with  (not shown to you)" in result.lines()
    assert run_jitc(capsys, *argv, "--json").json()["shares"] is None
