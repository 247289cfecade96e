"""The walk of a full bundle on two processes (custody.verify.parallel) gives the report of
the one-process walk: verdict, every finding, their order, messages, warnings, --json and
exit code. Compared on every golden bundle, every bundle of the browser verifier's
catalogue (revised format and hostile), and generated corruptions of a mid-size log; small
bundles are sent through the two-process walk by `parallel=True` (or MIN_BYTES = 0 for the
command line)."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.bundle import ENTRIES, BundleReader
from custody.canonical import canonical_bytes
from custody.entry import SYSTEM_ACTOR, Entry, make_entry
from custody.errors import BundleFormatError
from custody.merkle import leaf_hash
from custody.verify import CHECKS, CheckResult, parallel, verify_bundle
from custody.verify.results import Recorder, new_checks
from server.cli import main as jitc
from tests.custody.golden.generator import (
    BE_INV,
    DE_INV,
    DISK,
    GOLDEN_DIR,
    NL_INV,
    NL_PROS,
    NL_TECH,
    PHONE,
    SCENARIOS,
    Bundle,
    LogBuilder,
    read_members,
    rechain,
    render,
    standard_log,
    write_members,
)
from tests.webverify import catalogue

TRUSTED = (GOLDEN_DIR / "trusted-policy.txt").read_text(encoding="utf-8")
GOLDEN = sorted(SCENARIOS)
MID_SIZE = 2500  # entries added to the golden story: findings beyond the 50 kept per check


@pytest.fixture(autouse=True)
def _two_processes_possible() -> None:
    # Else `parallel=True` would quietly walk in one process and every test here would
    # compare the one-process walk with itself.
    assert parallel.available(), "the two-process walk needs Linux and no other thread"


def both(path: Path, policy: str | None = None) -> dict[str, Any]:
    """The report both ways; they must be equal. Returns it as JSON."""
    one = verify_bundle(path, policy_text=policy, parallel=False).to_json()
    two = verify_bundle(path, policy_text=policy, parallel=True).to_json()
    assert two == one
    return one


# --- the golden bundles and the catalogue ------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN)
@pytest.mark.parametrize("trusted", [False, True])
def test_golden_bundles_get_the_same_report(name: str, trusted: bool) -> None:
    both(GOLDEN_DIR / f"{name}.zip", TRUSTED if trusted else None)


@pytest.fixture(scope="module")
def catalogue_cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    out = tmp_path_factory.mktemp("catalogue")
    return out, [case.to_json() for case in catalogue.write(out)]


def test_every_catalogued_bundle_gets_the_same_report(
    catalogue_cases: tuple[Path, list[Any]],
) -> None:
    out, cases = catalogue_cases
    verdicts = set()
    for case in cases:
        policy = None if case["policy"] is None else (out / case["policy"]).read_text("utf-8")
        one, two = (_outcome(out / case["file"], policy, way) for way in (False, True))
        assert two == one, case["name"]
        verdicts.add("unreadable" if isinstance(one, str) else "fail" if not one["ok"] else "pass")
    assert verdicts == {"pass", "fail", "unreadable"}


def _outcome(path: Path, policy: str | None, way: bool) -> dict[str, Any] | str:
    try:
        return verify_bundle(path, policy_text=policy, parallel=way).to_json()
    except BundleFormatError as exc:  # unreadable: the same message both ways
        return f"unreadable: {exc}"


@pytest.mark.parametrize(
    "name", ["valid-full", "fail-7-access-without-share", "fail-1-noncanonical-entry"]
)
def test_the_command_line_prints_the_same_json_and_exit_code(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "trusted.txt"
    policy.write_text(TRUSTED, encoding="utf-8")
    argv = ["verify", str(GOLDEN_DIR / f"{name}.zip"), "--policy", str(policy), "--json"]
    outcomes = []
    for threshold in (1 << 62, 0):  # one process, then two
        monkeypatch.setattr(parallel, "MIN_BYTES", threshold)
        code = jitc(argv)
        printed = json.loads(capsys.readouterr().out)
        printed.pop("verified_at")  # the clock
        outcomes.append((code, printed))
    assert outcomes[1] == outcomes[0]
    assert outcomes[0][0] == (0 if name == "valid-full" else 1)


# --- which way the walk went ----------------------------------------------------------------


def shared_walk(
    path: Path, checks: list[CheckResult] | None = None
) -> tuple[parallel.SharedWalk, bool] | None:
    """parallel.walk alone: the walk and whether the member was read, or None (not proven).
    What it finds goes into `checks`."""
    with BundleReader(path) as reader:
        manifest, _ = reader.manifest()
        rec = Recorder(new_checks(CHECKS) if checks is None else checks, raising=False)
        return parallel.walk(reader, manifest, None, rec)


def test_a_sound_log_is_proven_by_the_helper_and_its_findings_kept() -> None:
    path = GOLDEN_DIR / "fail-7-access-without-share.zip"
    checks = new_checks(CHECKS)
    walked = shared_walk(path, checks)
    assert walked is not None
    walk, read = walked
    assert read
    assert walk.count == verify_bundle(path).entries
    replay = next(check for check in checks if check.id == "replay")
    assert replay.status == "fail"
    assert "share" in replay.findings[0].message


@pytest.mark.parametrize("name", ["fail-1-noncanonical-entry", "fail-2-root-mismatch"])
def test_only_a_log_of_canonical_chained_lines_is_proven(name: str) -> None:
    # The root mismatch is proven per line (its lines are canonical and chained): the
    # helper's root differs from the checkpoint's, which close_log reports. A non-canonical
    # line is not: the caller walks again in one process.
    walked = shared_walk(GOLDEN_DIR / f"{name}.zip")
    assert (walked is None) == (name == "fail-1-noncanonical-entry")


def test_a_member_that_cannot_be_read_is_reported_from_this_process(tmp_path: Path) -> None:
    members = read_members((GOLDEN_DIR / "valid-full.zip").read_bytes())
    members[ENTRIES] = members[ENTRIES][:-1]  # no final newline
    path = tmp_path / "cut.zip"
    path.write_bytes(write_members(members))
    walked = shared_walk(path)
    assert walked is not None
    walk, read = walked
    assert not read
    assert "newline" in walk.read_error
    report = both(path)
    assert report["entries"] == 0


# --- corruptions of a mid-size log ---------------------------------------------------------


def _busy(log: LogBuilder) -> None:
    """Thousands of entries with findings of every entry check, beyond the 50 kept."""
    for i in range(MID_SIZE):
        kind = i % 10
        exhibit = PHONE if i % 3 else DISK
        if kind == 0:  # never shared with DE: a replay finding each time
            log.add(DE_INV, "exhibit.accessed", PHONE, {"purpose": "curious", "range": None})
        elif kind == 1:
            log.add(NL_INV, "note.added", exhibit, {"commitment": "ab" * 32})
        elif kind == 2 and i % 100 == 2:
            log.add(NL_TECH, "x.custom", None, {"n": i})  # an unknown type: a warning
        elif kind == 3 and i % 500 == 3:
            clock = log.clock  # one entry out of time order, the next ones in order again
            earlier = clock.replace(year=2025)
            log.add(NL_INV, "note.added", None, {"commitment": "cd" * 32}, time=earlier)
            log.clock = clock
        elif kind == 4 and i % 250 == 4:
            log.add(NL_PROS, "exhibit.shared", DISK, {"jurisdiction": "DE", "conditions": ""})
        else:
            log.add(BE_INV, "exhibit.accessed", PHONE, {"purpose": "analysis", "range": [0, i]})


@pytest.fixture(scope="module")
def mid_size() -> tuple[list[Entry], bytes]:
    entries = standard_log(extra=_busy).entries
    return entries, render(Bundle(entries))


def test_the_mid_size_log_is_proven_and_full_of_findings(
    mid_size: tuple[list[Entry], bytes], tmp_path: Path
) -> None:
    path = tmp_path / "mid.zip"
    path.write_bytes(mid_size[1])
    report = both(path, TRUSTED)
    failing = {check["id"]: check["finding_count"] for check in report["checks"]}
    assert failing["replay"] > 50
    assert failing["time"] > 1
    assert shared_walk(path) is not None


Change = Callable[[list[bytes]], list[bytes]]


def _flip(line: int, at: int, bits: int) -> Change:
    def change(lines: list[bytes]) -> list[bytes]:
        target = bytearray(lines[line])
        if target:
            target[at % len(target)] ^= bits
        lines[line] = bytes(target)
        return lines

    return change


def _drop(line: int) -> Change:
    return lambda lines: lines[:line] + lines[line + 1 :]


def _swap(line: int) -> Change:
    def change(lines: list[bytes]) -> list[bytes]:
        lines[line], lines[line + 1] = lines[line + 1], lines[line]
        return lines

    return change


def _bad_prev(line: int, other: int) -> Change:
    def change(lines: list[bytes]) -> list[bytes]:
        obj = orjson.loads(lines[line])
        obj["prev"] = leaf_hash(lines[other]).hex()
        lines[line] = canonical_bytes(obj)
        return lines

    return change


def _corruptions(size: int) -> st.SearchStrategy[Change]:
    line = st.integers(0, size - 2)
    return st.one_of(
        st.builds(_flip, line, st.integers(0, 1000), st.integers(1, 255)),
        st.builds(_drop, line),
        st.builds(_swap, line),
        st.builds(_bad_prev, line, line),
    )


SIZE = len(standard_log().entries) + MID_SIZE


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(change=_corruptions(SIZE), trusted=st.booleans())
def test_a_corrupted_log_gets_the_same_report(
    change: Change, trusted: bool, mid_size: tuple[list[Entry], bytes], tmp_path: Path
) -> None:
    members = read_members(mid_size[1])
    lines = members[ENTRIES].split(b"\n")
    last = lines.pop()  # b"": the member ends with a newline
    members[ENTRIES] = b"\n".join([*change(lines), last])
    path = tmp_path / "corrupt.zip"
    path.write_bytes(write_members(members))
    both(path, TRUSTED if trusted else None)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(root=st.binary(min_size=32, max_size=32))
def test_a_checkpoint_with_another_root_gets_the_same_report(
    root: bytes, mid_size: tuple[list[Entry], bytes], tmp_path: Path
) -> None:
    import base64

    members = read_members(mid_size[1])
    text = members["checkpoint"].decode()
    origin, size, _, rest = text.split("\n", 3)
    members["checkpoint"] = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n{rest}".encode()
    path = tmp_path / "root.zip"
    path.write_bytes(write_members(members))
    both(path, TRUSTED)


_ACTORS = [NL_INV, BE_INV, DE_INV, NL_PROS, SYSTEM_ACTOR]


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    at=st.integers(30, SIZE - 1),
    field=st.sampled_from(["time", "actor", "event", "exhibit_prev"]),
    pick=st.integers(0, 4),
)
def test_a_resigned_log_with_another_entry_gets_the_same_report(
    at: int, field: str, pick: int, mid_size: tuple[list[Entry], bytes], tmp_path: Path
) -> None:
    """A forger with the log key: entry `at` changed, the log rechained and re-signed, so
    only the entry checks see it (and the helper proves the log)."""
    data = render(Bundle(_changed(list(mid_size[0]), at, field, pick)))
    path = tmp_path / "resigned.zip"
    path.write_bytes(data)
    both(path, TRUSTED)
    assert shared_walk(path) is not None


# (type, exhibit, data) an entry is changed into: each valid, most break a custody rule.
_EVENTS: list[tuple[str, str | None, dict[str, Any]]] = [
    ("y.new", None, {}),
    ("exhibit.shared", DISK, {"jurisdiction": "DE", "conditions": ""}),
    ("exhibit.share_revoked", PHONE, {"jurisdiction": "BE", "conditions": ""}),
    ("case.party_removed", None, {"jurisdiction": "BE"}),
    ("exhibit.accessed", DISK, {"purpose": "look", "range": None}),
]


def _changed(entries: list[Entry], at: int, field: str, pick: int) -> list[Entry]:
    victim = entries[at]
    if field == "exhibit_prev":
        entries[at] = make_entry(
            case=victim.case,
            seq=at,
            prev=entries[at - 1].leaf_hash(),
            time=victim.time,
            actor=victim.actor,
            type=victim.type,
            exhibit=victim.exhibit,
            exhibit_prev=entries[pick].leaf_hash() if victim.exhibit else None,
            data=dict(victim.data),
        )
        return rechain(entries, at + 1)  # the entries after it, not its exhibit_prev
    if field == "time":
        entries[at] = victim._replace(time=f"2026-11-0{pick + 1}T00:00:00.000000Z")
    elif field == "actor":
        entries[at] = victim._replace(actor=_ACTORS[pick])
    else:
        kind, exhibit, data = _EVENTS[pick]
        entries[at] = victim._replace(type=kind, exhibit=exhibit, data=data)
    return rechain(entries, at)


# --- a helper that fails -------------------------------------------------------------------


def _no_child_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_every_helper_is_reaped() -> None:
    both(GOLDEN_DIR / "valid-full.zip")
    both(GOLDEN_DIR / "fail-1-noncanonical-entry.zip")
    assert _no_child_left()


def _dies(fd: int) -> bytes:
    os._exit(3)


def _miscounts(fd: int) -> bytes:
    proof = _real_prove(fd)
    kind, count, received, root, last = struct.unpack(">cQQ32s32s", proof)
    return struct.pack(">cQQ32s32s", kind, count, received + 1, root, last)


_real_prove = parallel.prove


@pytest.mark.parametrize("failure", [_dies, _miscounts])
def test_a_helper_that_dies_or_answers_wrong_leaves_the_report_unchanged(
    failure: Callable[[int], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failure path, so replaced on purpose: the helper runs the module as it was forked.
    path = GOLDEN_DIR / "fail-7-access-without-share.zip"
    expected = verify_bundle(path, policy_text=TRUSTED, parallel=False).to_json()
    monkeypatch.setattr(parallel, "prove", failure)
    assert shared_walk(path) is None
    assert verify_bundle(path, policy_text=TRUSTED, parallel=True).to_json() == expected
    assert _no_child_left()
