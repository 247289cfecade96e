"""The bundles both verifiers are run on: goldens, revised-format bundles, hostile bundles.

`python -m tests.webverify.catalogue OUT_DIR` writes every bundle to OUT_DIR with
`cases.json`: a list of {name, file, policy, verdict, failing, group, why}, where
`verdict` and `failing` are what a verifier of the revised spec must answer (`error`:
the file cannot be read as a bundle). The Node tests (web/verifier/test) and the
cross-check (tests/webverify/test_crosscheck.py) read the same files.

The hostile catalogue mirrors tests/custody's hostile bundles (zip bombs declared and
real, lying sizes, overlapping members, unsafe names, symlinks, missing members, huge
and deep lines, unsafe integers, duplicate keys, non-UTF-8), built on a revised-format
bundle of bundles.py.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.webverify import bundles
from tests.webverify.bundles import (
    BE_JUDGE,
    BE_PROS,
    BE_TECH,
    DEFENCE,
    DISK,
    FR_INV,
    NL_INV,
    NL_PROS,
    PHONE,
    SELECTIVE,
    SYSTEM,
    Bundle,
    Log,
    Members,
    digests,
    render,
)
from tests.webverify.hostile import hostile

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "custody" / "data" / "golden"
MANIFEST = "jitc-bundle.json"
ENTRIES = "entries.jsonl"
TRUSTED = "trusted-policy.txt"
GOLDEN_TRUSTED = "golden-trusted-policy.txt"


@dataclass(frozen=True)
class Case:
    """One verification: a bundle file, the policy given (None: the bundle's own), and
    the answer the revised spec asks for."""

    name: str
    file: str
    policy: str | None
    verdict: str
    failing: tuple[str, ...] = ()
    group: str = "revised"
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "policy": self.policy,
            "verdict": self.verdict,
            "failing": sorted(self.failing),
            "group": self.group,
            "why": self.why,
        }


# --- revised-format bundles: one per check and per custody rule of spec 6 --------------


def _story(*steps: tuple[dict[str, Any], str, str | None, dict[str, Any]]) -> bundles.Story:
    def extra(log: Log) -> None:
        for who, kind, exhibit, data in steps:
            log.add(who, kind, exhibit, data)

    return extra


def _noncanonical(lines: list[bytes]) -> list[bytes]:
    # A spaced line, the log re-chained and re-signed over it: only check 1 can tell.
    lines[6] = lines[6].replace(b'"data":', b'"data": ')
    return _rechain_from(lines, 7)


def _root_mismatch(members: Members) -> None:
    lines = members[ENTRIES].split(b"\n")
    lines[-2] = lines[-2].replace(b"adv-de-vries", b"adv-van-dijk")
    members[ENTRIES] = b"\n".join(lines)


def _time_reversed(entries: list[dict[str, Any]]) -> None:
    entries[8]["time"] = "2026-11-02T08:00:00.000000Z"


def _chain_broken(lines: list[bytes]) -> list[bytes]:
    # Re-chained by a forger except one exhibit_prev, which skips the share (seq 6).
    entry = json.loads(lines[7])
    entry["exhibit_prev"] = bundles.leaf_hash(lines[3]).hex()
    lines[7] = bundles.canonical(entry)
    return _rechain_from(lines, 8)


def _rechain_from(lines: list[bytes], start: int) -> list[bytes]:
    heads: dict[str, bytes] = {}
    for index, line in enumerate(lines):
        entry = json.loads(line)
        if index >= start:
            entry["prev"] = bundles.leaf_hash(lines[index - 1]).hex()
            if entry["exhibit"] is not None:
                entry["exhibit_prev"] = heads.get(entry["exhibit"], bundles.ZERO).hex()
            lines[index] = bundles.canonical(entry)
        if entry["exhibit"] is not None:
            heads[entry["exhibit"]] = bundles.leaf_hash(lines[index])
    return lines


def _content_altered(members: Members) -> None:
    path = bundles.content_path(DISK)
    data = bytearray(members[path])
    data[100] ^= 0x01
    members[path] = bytes(data)


def _bad_proof(members: Members) -> None:
    name = "proofs/3.tlog-proof"
    lines = members[name].split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b"index ")) + 1
    lines[at] = (b"A" if lines[at][:1] != b"A" else b"B") + lines[at][1:]
    members[name] = b"\n".join(lines)


# The seq of the first entry a story adds after the standard log.
EXTRA = len(bundles.standard_log("").entries) - 1
HOLD_ON_PHONE = (NL_PROS, "exhibit.hold_set", PHONE, {"reason": "seizure", "authority": "OM 9"})


def revised_bundles() -> Iterator[tuple[str, Bundle, tuple[str, ...], tuple[str, ...], str]]:
    """(name, bundle, failing with its own policy, failing with the trusted policy, why)."""
    yield "valid-full", Bundle(), (), (), ""
    yield "valid-selective", Bundle(**SELECTIVE), (), (), ""  # type: ignore[arg-type]
    yield "valid-hashes-only", Bundle(content={}), (), (), ""
    yield (
        "valid-no-witnesses",
        Bundle(witnesses=(), cosigners=()),
        (),
        ("signatures",),
        "the exporter claims no witnesses; the court trusts two",
    )
    yield (
        "valid-with-warnings",
        Bundle(
            extra=_story(
                (NL_INV, "exhibit.tagged", PHONE, {"tag": "priority"}),
                (SYSTEM, "exhibit.verified", DISK, {"ok": False, **bundles._hashes(b"x")}),
            ),
            cosign_time=bundles.CREATED_AT - timedelta(days=3),
            log_size_extra=4,
        ),
        (),
        (),
        "unknown type, storage found altered, stale cosignature, log_size above tree_size",
    )
    yield "valid-notes", Bundle(notes=True), (), (), "note.added with a salted commitment"
    yield (
        "fail-1-noncanonical-entry",
        Bundle(edit_lines=_noncanonical),
        ("format",),
        ("format",),
        "",
    )
    yield (
        "fail-1-note-without-commitment",
        Bundle(extra=_story((NL_INV, "note.added", PHONE, {"sha256": "0" * 64}))),
        ("format",),
        ("format",),
        "spec 2.1: note.added carries `commitment`, not a plain hash of the text",
    )
    yield "fail-2-root-mismatch", Bundle(tamper=_root_mismatch), ("log",), ("log",), ""
    yield (
        "fail-2-selective-bad-proof",
        Bundle(tamper=_bad_proof, **SELECTIVE),  # type: ignore[arg-type]
        ("log",),
        ("log",),
        "",
    )
    yield "fail-3-time-reversed", Bundle(edit_entries=_time_reversed), ("time",), ("time",), ""
    yield (
        "fail-4-exhibit-chain-broken",
        Bundle(edit_lines=_chain_broken),
        ("exhibit-chains",),
        ("exhibit-chains",),
        "",
    )
    yield (
        "fail-5-swapped-log-key",
        Bundle(log_key=bundles.ROGUE_LOG_KEY),
        (),
        ("signatures",),
        "another log key throughout, policy.txt and case.policy_set included",
    )
    yield "fail-5-quorum-not-met", Bundle(cosigners=("NL-1",)), ("signatures",), ("signatures",), ""
    yield (
        "fail-5-bad-cosignature",
        Bundle(bad_cosigner="BE-1"),
        ("signatures",),
        ("signatures",),
        "",
    )
    yield (
        "fail-5-policy-not-logged",
        Bundle(policy_in_bundle=bundles.policy_text(bundles.LOG_KEY, ())),
        ("signatures",),
        ("signatures",),
        "spec 5: policy.txt (quorum none) is not the newest case.policy_set",
    )
    yield "fail-6-content-altered", Bundle(tamper=_content_altered), ("content",), ("content",), ""
    for name, steps, why in RULE_BREAKS:
        yield name, Bundle(extra=_story(*steps)), ("replay",), ("replay",), why


RULE_BREAKS: list[tuple[str, list[tuple[dict[str, Any], str, str | None, dict[str, Any]]], str]] = [
    (
        "fail-7-access-without-share",
        [(FR_INV, "exhibit.accessed", PHONE, {"purpose": "curiosity", "range": None})],
        "",
    ),
    (
        "fail-7-ingest-after-seal",
        [
            (
                BE_TECH,
                "exhibit.ingested",
                DISK,
                {**digests(b"new"), "filename": "x.E01", "media_type": "application/x-ewf"},
            )
        ],
        "",
    ),
    (
        "fail-7-second-ingest",
        [
            (
                NL_PROS,
                "exhibit.ingested",
                PHONE,
                {**digests(b"new"), "filename": "x.ufd", "media_type": "application/octet-stream"},
            )
        ],
        "",
    ),
    (
        "fail-7-event-after-disposal",
        [
            (NL_PROS, "exhibit.disposed", PHONE, {"reason": "returned", "authority": "OM"}),
            (NL_INV, "exhibit.accessed", PHONE, {"purpose": "late look", "range": None}),
        ],
        "",
    ),
    (
        "fail-7-party-added-without-consent",
        [
            (NL_PROS, "case.party_proposed", None, {"jurisdiction": "FR"}),
            (NL_PROS, "case.party_added", None, {"jurisdiction": "FR", "proposal": EXTRA}),
        ],
        "BE and DE, parties when FR was proposed, never consented",
    ),
    (
        "fail-7-party-removed-by-another",
        [(NL_PROS, "case.party_removed", None, {"jurisdiction": "BE"})],
        "",
    ),
    (
        "fail-7-grant-for-another-state",
        [
            (
                NL_PROS,
                "case.access_granted",
                None,
                {"jurisdiction": "BE", "sub": "judge-x", "role": "judge", "exhibits": None},
            )
        ],
        "",
    ),
    (
        "fail-7-defence-access-outside-grant",
        [
            (BE_PROS, "exhibit.shared", DISK, {"jurisdiction": "NL", "conditions": ""}),
            (DEFENCE, "exhibit.accessed", DISK, {"purpose": "review", "range": None}),
        ],
        "the grant lists the handset only",
    ),
    (
        "fail-7-court-access-unshared-exhibit",
        [
            (
                NL_PROS,
                "case.access_granted",
                None,
                {"jurisdiction": "NL", "sub": "judge-bakker", "role": "judge", "exhibits": None},
            ),
            (
                {**BE_JUDGE, "jurisdiction": "NL", "sub": "judge-bakker", "token": "t"},
                "exhibit.accessed",
                DISK,
                {"purpose": "hearing", "range": None},
            ),
        ],
        "NL grants all it may read, but NL neither owns nor holds a share of the disk",
    ),
    (
        "fail-7-hold-released-by-another-state",
        [
            HOLD_ON_PHONE,
            (BE_PROS, "exhibit.hold_released", PHONE, {"reason": "x", "hold": EXTRA}),
        ],
        "",
    ),
    (
        "fail-7-judge-hold-released-by-prosecutor",
        [
            (BE_JUDGE, "exhibit.hold_set", DISK, {"reason": "order", "authority": "court"}),
            (BE_PROS, "exhibit.hold_released", DISK, {"reason": "x", "hold": EXTRA}),
        ],
        "",
    ),
    (
        "fail-7-hold-released-twice",
        [
            HOLD_ON_PHONE,
            (NL_PROS, "exhibit.hold_released", PHONE, {"reason": "x", "hold": EXTRA}),
            (NL_PROS, "exhibit.hold_released", PHONE, {"reason": "y", "hold": EXTRA}),
        ],
        "",
    ),
    (
        "fail-7-disposed-under-hold",
        [
            HOLD_ON_PHONE,
            (NL_PROS, "exhibit.disposed", PHONE, {"reason": "destroyed", "authority": "OM"}),
        ],
        "",
    ),
]


# --- the goldens of tests/custody, with their recorded expectations ------------------------


def golden_cases(out: Path) -> Iterator[Case]:
    """Every golden bundle, own and trusted policy, as tests/custody/test_golden.py expects.

    A golden whose manifest has no `log_size` predates the revised spec (spec 5 requires
    it): a revised verifier cannot read it as a bundle, whatever the old expectation."""
    from tests.custody.golden.generator import EXPECTED

    shutil.copyfile(GOLDEN / "trusted-policy.txt", out / GOLDEN_TRUSTED)
    for path in sorted(GOLDEN.glob("*.zip")):
        name = path.stem
        shutil.copyfile(path, out / f"golden-{name}.zip")
        manifest = json.loads(bundles.read_members(path.read_bytes())[MANIFEST])
        for policy, failing in (
            (None, EXPECTED[name].own_policy),
            (GOLDEN_TRUSTED, EXPECTED[name].trusted_policy),
        ):
            suffix = "own" if policy is None else "trusted"
            if "log_size" not in manifest:
                yield Case(
                    f"golden-{name}-{suffix}",
                    f"golden-{name}.zip",
                    policy,
                    "error",
                    (),
                    "golden",
                    "pre-revision golden: the manifest has no log_size (spec 5)",
                )
            else:
                yield Case(
                    f"golden-{name}-{suffix}",
                    f"golden-{name}.zip",
                    policy,
                    "fail" if failing else "pass",
                    tuple(failing),
                    "golden",
                )


def write(out: Path) -> list[Case]:
    """Write every bundle and cases.json to `out`; return the cases."""
    out.mkdir(parents=True, exist_ok=True)
    (out / TRUSTED).write_text(bundles.trusted_policy(), encoding="utf-8")
    cases: list[Case] = []
    for name, bundle, own, trusted, why in revised_bundles():
        (out / f"{name}.zip").write_bytes(render(bundle))
        for policy, failing in ((None, own), (TRUSTED, trusted)):
            suffix = "own" if policy is None else "trusted"
            verdict = "fail" if failing else "pass"
            cases.append(
                Case(f"{name}-{suffix}", f"{name}.zip", policy, verdict, failing, "revised", why)
            )
    for name, data, verdict, own, with_trusted in hostile():
        (out / f"hostile-{name}.zip").write_bytes(data)
        cases.append(Case(f"hostile-{name}", f"hostile-{name}.zip", None, verdict, own, "hostile"))
        if with_trusted is not None:
            trusted_verdict = (
                "error" if verdict == "error" else ("fail" if with_trusted else "pass")
            )
            cases.append(
                Case(
                    f"hostile-{name}-trusted",
                    f"hostile-{name}.zip",
                    TRUSTED,
                    trusted_verdict,
                    with_trusted,
                    "hostile",
                )
            )
    cases.extend(golden_cases(out))
    (out / "cases.json").write_text(
        json.dumps([case.to_json() for case in cases], indent=1), encoding="utf-8"
    )
    return cases


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.webverify.catalogue OUT_DIR", file=sys.stderr)
        return 2
    cases = write(Path(argv[0]))
    print(f"wrote {len(cases)} cases to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
