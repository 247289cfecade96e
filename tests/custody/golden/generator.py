"""Deterministic generator of golden court bundles (fixed keys, fixed clock).

Run `python -m tests.custody.golden.generator [OUT_DIR]` to rewrite the checked-in bundles
in tests/custody/data/golden/. Each failing bundle breaks exactly one check of spec 6 and is
otherwise consistent: where the tamper changes entry bytes, the log is re-signed over the
tampered entries, as an operator with the log key could do. Only the witnesses and the
custody rules can catch such a log, so those bundles prove the later checks do their work.

`EXPECTED` says, per bundle, which checks fail and which warnings appear.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from custody.assemble import ContentSource, add_report, write_bundle
from custody.canonical import canonical_bytes
from custody.checkpoint import Checkpoint
from custody.commitment import note_commitment
from custody.cosignature import CosignatureSigner
from custody.entry import SYSTEM_ACTOR, ZERO_HASH, Actor, Entry, make_entry
from custody.merkle import MemoryTree, leaf_hash
from custody.note import Note, NoteSigner, sign_note
from custody.policy import build_policy
from custody.report import render_html
from custody.verify import verify_bundle

LOG_NAME = "jitc.golden.test"
CASE_ID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
ORIGIN = f"{LOG_NAME}/case/{CASE_ID}"
PHONE = "1d0c9e8b-7a6f-4e5d-8c4b-3a2918070605"
DISK = "2e1d0f9c-8b7a-4f6e-9d5c-4b3a29180716"
T0 = datetime(2026, 11, 2, 8, 30, 0, 123456, tzinfo=UTC)
CREATED = "2026-11-20T10:00:00.000000Z"
CREATED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PHONE_BYTES = b"UFED extraction of a seized handset\n" + bytes(range(256)) * 64
DISK_BYTES = b"E01 image of a laptop disk\n" + b"\x00\xff" * 5000


def seed(label: str) -> bytes:
    return hashlib.sha256(b"jitc golden key: " + label.encode()).digest()


LOG_KEY = NoteSigner.from_seed(ORIGIN, seed("log"))
ROGUE_LOG_KEY = NoteSigner.from_seed(ORIGIN, seed("rogue log"))
WITNESSES = {
    "NL-1": CosignatureSigner.from_seed("witness.nl.example", seed("witness NL")),
    "BE-1": CosignatureSigner.from_seed("witness.be.example", seed("witness BE")),
}

NL_TECH = Actor("NL", "tech-anna", "technician", "tok-nl-tech")
NL_INV = Actor("NL", "inv-joris", "investigator", "tok-nl-inv")
NL_PROS = Actor("NL", "pros-eva", "prosecutor", "tok-nl-pros")
BE_TECH = Actor("BE", "tech-luc", "technician", "tok-be-tech")
BE_INV = Actor("BE", "inv-marie", "investigator", "tok-be-inv")
DE_INV = Actor("DE", "inv-klaus", "investigator", "tok-de-inv")
BE_PROS = Actor("BE", "pros-jan", "prosecutor", "tok-be-pros")
BE_JUDGE = Actor("BE", "judge-peeters", "judge", "tok-be-judge")
BE_DEFENCE = Actor("BE", "adv-janssens", "defence", "tok-be-defence")
NL_JUDGE = Actor("NL", "judge-bos", "judge", "tok-nl-judge")
DEFENCE = Actor("NL", "adv-de-vries", "defence", "tok-defence")
SALT = hashlib.sha256(b"jitc golden note salt").digest()


def digests(content: bytes) -> dict[str, Any]:
    import blake3

    return {
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "blake3": blake3.blake3(content).hexdigest(),
    }


@dataclass
class LogBuilder:
    """Appends entries the way the server does: seq, prev, exhibit_prev and a rising clock."""

    entries: list[Entry] = field(default_factory=list)
    exhibit_heads: dict[str, bytes] = field(default_factory=dict)
    clock: datetime = T0

    def add(
        self,
        actor: Actor,
        kind: str,
        exhibit: str | None,
        data: dict[str, Any],
        *,
        time: datetime | None = None,
        exhibit_prev: bytes | None = None,
    ) -> Entry:
        self.clock = time if time is not None else self.clock + timedelta(minutes=7)
        prev = self.entries[-1].leaf_hash() if self.entries else ZERO_HASH
        if exhibit is not None and exhibit_prev is None:
            exhibit_prev = self.exhibit_heads.get(exhibit, ZERO_HASH)
        entry = make_entry(
            case=CASE_ID,
            seq=len(self.entries),
            prev=prev,
            time=self.clock,
            actor=actor,
            type=kind,
            exhibit=exhibit,
            exhibit_prev=exhibit_prev,
            data=data,
        )
        self.entries.append(entry)
        if exhibit is not None:
            self.exhibit_heads[exhibit] = entry.leaf_hash()
        return entry


def policy_text(
    log_key: NoteSigner = LOG_KEY, witnesses: tuple[str, ...] = ("NL-1", "BE-1")
) -> str:
    """spec 5 policy.txt: the log key, the witnesses, all of them (or `quorum none`)."""
    named = [(name, WITNESSES[name].vkey()) for name in witnesses]
    return build_policy(log_key.vkey(), named, quorum="all" if named else None).to_text()


def standard_log(
    *, extra: Callable[[LogBuilder], None] | None = None, policy: str | None = None
) -> LogBuilder:
    """The story of a small JIT case between the Netherlands and Belgium that Germany joins."""
    log = LogBuilder()
    log.add(
        NL_PROS,
        "case.created",
        None,
        {"title": "Operation Golden Tulip", "parties": ["NL", "BE"], "agreement": "JIT-2026-17"},
    )
    log.add(SYSTEM_ACTOR, "case.policy_set", None, {"policy": policy or policy_text()})
    log.add(
        NL_TECH,
        "exhibit.registered",
        PHONE,
        {
            "label": "NL-001 handset",
            "owner": "NL",
            "description": "Handset seized at Schiphol",
            "acquisition": {
                "tool": "UFED 7.70",
                "operator": "tech-anna",
                "time": "2026-11-01T15:02:00Z",
                "hashes": {"sha256": digests(PHONE_BYTES)["sha256"]},
            },
        },
    )
    log.add(
        NL_TECH,
        "exhibit.ingested",
        PHONE,
        {
            **digests(PHONE_BYTES),
            "filename": "handset\u202egpj.ufd",
            "media_type": "application/octet-stream",
        },
    )
    log.add(
        BE_TECH,
        "exhibit.registered",
        DISK,
        {
            "label": "BE-001 laptop",
            "owner": "BE",
            "description": "Laptop seized in Antwerp",
            "acquisition": {
                "tool": "FTK Imager 4.7",
                "operator": "tech-luc",
                "time": "",
                "hashes": {},
            },
        },
    )
    log.add(
        BE_TECH,
        "exhibit.ingested",
        DISK,
        {**digests(DISK_BYTES), "filename": "laptop.E01", "media_type": "application/x-ewf"},
    )
    log.add(NL_INV, "note.added", PHONE, {"commitment": note_commitment(SALT, "first look")})
    log.add(
        NL_PROS,
        "exhibit.shared",
        PHONE,
        {"jurisdiction": "BE", "conditions": "use in JIT-2026-17 only"},
    )
    log.add(BE_INV, "exhibit.accessed", PHONE, {"purpose": "analysis", "range": None})
    log.add(NL_INV, "exhibit.accessed", PHONE, {"purpose": "analysis", "range": [0, 1023]})
    log.add(
        NL_PROS,
        "case.access_granted",
        None,
        {"jurisdiction": "NL", "sub": "adv-de-vries", "role": "defence", "exhibits": [PHONE]},
    )
    log.add(DEFENCE, "exhibit.accessed", PHONE, {"purpose": "defence review", "range": None})
    log.add(BE_TECH, "exhibit.sealed", DISK, {"reason": "analysis complete"})
    log.add(SYSTEM_ACTOR, "exhibit.verified", PHONE, {"ok": True, **_hashes(PHONE_BYTES)})
    proposal = log.add(NL_PROS, "case.party_proposed", None, {"jurisdiction": "DE"}).seq
    log.add(BE_PROS, "case.party_approved", None, {"proposal": proposal})
    log.add(BE_PROS, "case.party_added", None, {"jurisdiction": "DE", "proposal": proposal})
    log.add(
        BE_PROS,
        "case.access_granted",
        None,
        {"jurisdiction": "BE", "sub": "judge-peeters", "role": "judge", "exhibits": None},
    )
    log.add(BE_JUDGE, "exhibit.accessed", DISK, {"purpose": "hearing", "range": None})
    judge_hold = log.add(
        BE_JUDGE, "exhibit.hold_set", DISK, {"reason": "appeal", "authority": "court order 7"}
    ).seq
    log.add(BE_JUDGE, "exhibit.hold_released", DISK, {"reason": "appeal done", "hold": judge_hold})
    log.add(
        NL_PROS, "exhibit.hold_set", PHONE, {"reason": "trial pending", "authority": "OM 26/114"}
    )
    if extra is not None:
        extra(log)
    log.add(NL_INV, "note.added", None, {"commitment": note_commitment(SALT, "case note")})
    return log


# The seq of the open hold on the handset that standard_log leaves (its last hold_set).
PHONE_HOLD = 21


def _hashes(content: bytes) -> dict[str, Any]:
    found = digests(content)
    return {"sha256": found["sha256"], "blake3": found["blake3"]}


def rechain(entries: list[Entry], start: int = 0) -> list[Entry]:
    """Rebuild prev / exhibit_prev / leaf hashes from `start` on after a tamper, as a forger
    with the log key would, so that only the check aimed at still sees the change."""
    out = list(entries[:start])
    heads = _heads(out)
    for entry in entries[start:]:
        rebuilt = make_entry(
            case=entry.case,
            seq=len(out),
            prev=out[-1].leaf_hash() if out else ZERO_HASH,
            time=entry.time,
            actor=entry.actor,
            type=entry.type,
            exhibit=entry.exhibit,
            exhibit_prev=None if entry.exhibit is None else heads.get(entry.exhibit, ZERO_HASH),
            data=dict(entry.data),
        )
        out.append(rebuilt)
        if rebuilt.exhibit is not None:
            heads[rebuilt.exhibit] = rebuilt.leaf_hash()
    return out


def _heads(entries: list[Entry]) -> dict[str, bytes]:
    heads: dict[str, bytes] = {}
    for entry in entries:
        if entry.exhibit is not None:
            heads[entry.exhibit] = entry.leaf_hash()
    return heads


def raw_entry(entry: Entry, raw: bytes) -> Entry:
    """An entry carried as other bytes (for non-canonical lines)."""
    return entry._replace(raw=raw, leaf=leaf_hash(raw))


@dataclass
class Bundle:
    entries: list[Entry]
    disclosure: str = "full"
    exhibits: list[str] | None = None
    content: dict[str, bytes] = field(
        default_factory=lambda: {PHONE: PHONE_BYTES, DISK: DISK_BYTES}
    )
    witnesses: tuple[str, ...] = ("NL-1", "BE-1")
    cosigners: tuple[str, ...] = ("NL-1", "BE-1")
    log_key: NoteSigner = LOG_KEY
    cosign_time: datetime = CREATED_AT - timedelta(hours=1)
    tamper_zip: Callable[[dict[str, bytes]], None] | None = None
    bad_cosigner: str | None = None
    log_size_extra: int = 0  # entries the log held beyond tree_size when it was exported


def sign_checkpoint(bundle: Bundle, tree: MemoryTree) -> Note:
    checkpoint = Checkpoint(origin=ORIGIN, size=tree.size, root_hash=tree.root())
    note = sign_note(checkpoint.body(), [bundle.log_key])
    stamp = int(bundle.cosign_time.timestamp())
    cosignatures = []
    for name in bundle.cosigners:
        body = checkpoint.body()
        if name == bundle.bad_cosigner:
            body = Checkpoint(ORIGIN, tree.size, bytes(32)).body()
        cosignatures.append(WITNESSES[name].cosign(body, stamp))
    return note.with_signatures(cosignatures)


def policy_for(bundle: Bundle) -> str:
    """The policy the exporter puts in the bundle: its own log key, its witnesses, all."""
    return policy_text(bundle.log_key, bundle.witnesses)


def render(bundle: Bundle) -> bytes:
    """The bundle's ZIP bytes, report.html included (made by verifying it, as at export)."""
    tree = MemoryTree()
    for entry in bundle.entries:
        tree.append(entry.leaf_hash())
    note = sign_checkpoint(bundle, tree)
    policy = policy_for(bundle)
    contents: dict[str, ContentSource] = {
        key: _source(data) for key, data in bundle.content.items()
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.zip"
        write_bundle(
            path,
            entries=bundle.entries,
            checkpoint_note=note,
            policy_text=policy,
            created=CREATED,
            recipient="Rechtbank Amsterdam, case 13/123456-26",
            disclosure=bundle.disclosure,
            exhibits=bundle.exhibits,
            contents=contents,
            get_node=tree.get_node,
            log_size=tree.size + bundle.log_size_extra,
        )
        if bundle.tamper_zip is not None:
            members = read_members(path.read_bytes())
            bundle.tamper_zip(members)
            path.write_bytes(write_members(members))
        report = verify_bundle(path)
        add_report(path, render_html(report, entries=bundle.entries, policy_text=policy))
        return path.read_bytes()


def _source(data: bytes) -> ContentSource:
    def chunks() -> Iterable[bytes]:
        return [data]

    return chunks


def read_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


# --- the golden set ---------------------------------------------------------------------


def _noncanonical() -> Bundle:
    entries = standard_log().entries
    victim = entries[6]
    spaced = canonical_bytes(victim.to_json()).replace(b'"data":', b'"data": ')
    entries[6] = raw_entry(victim, spaced)
    return Bundle(rechain(entries, start=7))


def _root_mismatch() -> Bundle:
    entries = standard_log().entries
    last = entries[-1]

    def forge_last_line(members: dict[str, bytes]) -> None:
        # The last entry (a case note, no exhibit) is swapped after signing: no later entry
        # links to it, so only the Merkle root can tell.
        lines = members["entries.jsonl"].split(b"\n")
        forged = last._replace(data={"commitment": note_commitment(SALT, "another note")})
        lines[-2] = canonical_bytes(forged.to_json())
        members["entries.jsonl"] = b"\n".join(lines)

    return Bundle(entries, tamper_zip=forge_last_line)


def _time_reversed() -> Bundle:
    entries = standard_log().entries
    entries[9] = entries[9]._replace(time="2026-11-02T08:00:00.000000Z")
    return Bundle(rechain(entries))


def _exhibit_chain_broken() -> Bundle:
    entries = standard_log().entries
    # The handset's second access points back past the note and the share, as if both had
    # been cut out of its history.
    victim = entries[9]
    entries[9] = make_entry(
        case=victim.case,
        seq=victim.seq,
        prev=entries[8].leaf_hash(),
        time=victim.time,
        actor=victim.actor,
        type=victim.type,
        exhibit=victim.exhibit,
        exhibit_prev=entries[3].leaf_hash(),
        data=dict(victim.data),
    )
    return Bundle(rechain(entries, start=10))


def _unshared_access() -> Bundle:
    def extra(log: LogBuilder) -> None:
        log.add(DE_INV, "exhibit.accessed", PHONE, {"purpose": "curiosity", "range": None})

    return Bundle(standard_log(extra=extra).entries)


def _ingest_after_seal() -> Bundle:
    def extra(log: LogBuilder) -> None:
        log.add(
            BE_TECH,
            "exhibit.ingested",
            DISK,
            {
                **digests(b"replacement"),
                "filename": "laptop2.E01",
                "media_type": "application/x-ewf",
            },
        )

    return Bundle(standard_log(extra=extra).entries)


def _after_disposal() -> Bundle:
    def extra(log: LogBuilder) -> None:
        log.add(BE_TECH, "exhibit.disposed", DISK, {"reason": "returned", "authority": "OM"})
        log.add(BE_INV, "exhibit.accessed", DISK, {"purpose": "late look", "range": None})

    return Bundle(standard_log(extra=extra).entries, content={PHONE: PHONE_BYTES})


def _content_altered() -> Bundle:
    def flip(members: dict[str, bytes]) -> None:
        for name, content in list(members.items()):
            if name.startswith(f"exhibits/{DISK}/"):
                data = bytearray(content)
                data[100] ^= 0x01
                members[name] = bytes(data)

    return Bundle(standard_log().entries, tamper_zip=flip)


def _swapped_log_key() -> Bundle:
    # The forger logs its own key in case.policy_set too, so policy.txt matches the log.
    log = standard_log(policy=policy_text(ROGUE_LOG_KEY))
    return Bundle(log.entries, log_key=ROGUE_LOG_KEY)


def _quorum_not_met() -> Bundle:
    return Bundle(standard_log().entries, cosigners=("NL-1",))


def _bad_cosignature() -> Bundle:
    return Bundle(standard_log().entries, bad_cosigner="BE-1")


def _selective_bad_proof() -> Bundle:
    def corrupt(members: dict[str, bytes]) -> None:
        name = "proofs/2.tlog-proof"
        lines = members[name].split(b"\n")
        index_line = next(i for i, line in enumerate(lines) if line.startswith(b"index "))
        proof_line = lines[index_line + 1]
        lines[index_line + 1] = (b"A" if proof_line[:1] != b"A" else b"B") + proof_line[1:]
        members[name] = b"\n".join(lines)

    return Bundle(
        standard_log().entries,
        disclosure="selective",
        exhibits=[PHONE],
        tamper_zip=corrupt,
        content={PHONE: PHONE_BYTES},
    )


def _warnings() -> Bundle:
    def extra(log: LogBuilder) -> None:
        log.add(NL_INV, "exhibit.tagged", PHONE, {"tag": "priority"})
        log.add(SYSTEM_ACTOR, "exhibit.verified", DISK, {"ok": False, **_hashes(b"other")})

    return Bundle(
        standard_log(extra=extra).entries,
        cosign_time=CREATED_AT - timedelta(days=3),
        log_size_extra=4,
    )


def _rule_break(*steps: tuple[Actor, str, str | None, dict[str, Any]]) -> Callable[[], Bundle]:
    """A bundle whose log, after the standard story, holds `steps`: each breaks one custody
    rule of spec 6.7 (and nothing else), in a log signed and cosigned as usual."""

    def make() -> Bundle:
        def extra(log: LogBuilder) -> None:
            for actor, kind, exhibit, data in steps:
                log.add(actor, kind, exhibit, data)

        return Bundle(standard_log(extra=extra).entries)

    return make


# The seq of the first entry a rule break adds after the standard story.
EXTRA = PHONE_HOLD + 1
OTHER_BE_JUDGE = Actor("BE", "judge-claes", "judge", "tok-be-judge-2")
_GRANT_FOR_BE_JUDGE = {"jurisdiction": "BE", "sub": "judge-claes", "role": "judge"}

RULE_BREAKS: dict[str, Callable[[], Bundle]] = {
    # A judge reads with no grant at all, though the state owns the exhibit.
    "fail-7-self-granted-judge": _rule_break(
        (OTHER_BE_JUDGE, "exhibit.accessed", DISK, {"purpose": "hearing", "range": None}),
    ),
    # NL grants a Belgian judge: a state grants access only to its own courts.
    "fail-7-grant-for-another-state": _rule_break(
        (NL_PROS, "case.access_granted", None, {**_GRANT_FOR_BE_JUDGE, "exhibits": None}),
    ),
    # BE discloses the disk to its defence; the defence reads the handset (which BE may read).
    "fail-7-defence-outside-disclosure": _rule_break(
        (
            BE_PROS,
            "case.access_granted",
            None,
            {"jurisdiction": "BE", "sub": BE_DEFENCE.sub, "role": "defence", "exhibits": [DISK]},
        ),
        (BE_DEFENCE, "exhibit.accessed", PHONE, {"purpose": "review", "range": None}),
    ),
    "fail-7-hold-released-by-another-state": _rule_break(
        (BE_PROS, "exhibit.hold_released", PHONE, {"reason": "no longer", "hold": PHONE_HOLD}),
    ),
    "fail-7-disposal-under-hold": _rule_break(
        (NL_PROS, "exhibit.disposed", PHONE, {"reason": "destroyed", "authority": "OM 26/200"}),
    ),
    "fail-7-party-removed-by-another": _rule_break(
        (NL_PROS, "case.party_removed", None, {"jurisdiction": "BE"}),
    ),
    # BE and DE, parties when FR was proposed, never consented.
    "fail-7-party-added-without-consent": _rule_break(
        (NL_PROS, "case.party_proposed", None, {"jurisdiction": "FR"}),
        (NL_PROS, "case.party_added", None, {"jurisdiction": "FR", "proposal": EXTRA}),
    ),
}


def _policy_not_logged() -> Bundle:
    # policy.txt swapped after export for one without witnesses; the log recorded two.
    def swap_policy(members: dict[str, bytes]) -> None:
        members["policy.txt"] = policy_text(LOG_KEY, ()).encode()

    return Bundle(standard_log().entries, tamper_zip=swap_policy)


SCENARIOS: dict[str, Callable[[], Bundle]] = {
    "valid-full": lambda: Bundle(standard_log().entries),
    "valid-selective": lambda: Bundle(
        standard_log().entries,
        disclosure="selective",
        exhibits=[PHONE],
        content={PHONE: PHONE_BYTES},
    ),
    "valid-no-witnesses": lambda: Bundle(
        standard_log(policy=policy_text(LOG_KEY, ())).entries, witnesses=(), cosigners=()
    ),
    "valid-hashes-only": lambda: Bundle(standard_log().entries, content={}),
    "valid-with-warnings": _warnings,
    "fail-1-noncanonical-entry": _noncanonical,
    "fail-2-root-mismatch": _root_mismatch,
    "fail-2-selective-bad-proof": _selective_bad_proof,
    "fail-3-time-reversed": _time_reversed,
    "fail-4-exhibit-chain-broken": _exhibit_chain_broken,
    "fail-5-swapped-log-key": _swapped_log_key,
    "fail-5-quorum-not-met": _quorum_not_met,
    "fail-5-bad-cosignature": _bad_cosignature,
    "fail-5-policy-not-logged": _policy_not_logged,
    "fail-6-content-altered": _content_altered,
    "fail-7-access-without-share": _unshared_access,
    "fail-7-ingest-after-seal": _ingest_after_seal,
    "fail-7-event-after-disposal": _after_disposal,
    **RULE_BREAKS,
}


@dataclass(frozen=True)
class Expected:
    """Checks that fail with the bundle's own policy, and with the court's trusted policy;
    the number of warnings with each."""

    own_policy: frozenset[str]
    trusted_policy: frozenset[str]
    # With its own policy a bundle always warns that the policy is the exporter's claim.
    own_warnings: int = 1
    trusted_warnings: int = 0


def _same(*checks: str) -> Expected:
    return Expected(frozenset(checks), frozenset(checks))


EXPECTED: dict[str, Expected] = {
    "valid-full": _same(),
    "valid-selective": _same(),
    # The exporter claims no witnesses; a court that trusts the two states' witnesses says no.
    # Both warn that the bundle rests on the log key alone; the court's policy also differs
    # from the one the case recorded.
    "valid-no-witnesses": Expected(
        frozenset(), frozenset({"signatures"}), own_warnings=2, trusted_warnings=2
    ),
    "valid-hashes-only": _same(),
    # Unknown type, storage altered, stale cosignature, log_size above tree_size.
    "valid-with-warnings": Expected(frozenset(), frozenset(), own_warnings=5, trusted_warnings=4),
    "fail-1-noncanonical-entry": _same("format"),
    "fail-2-root-mismatch": _same("log"),
    "fail-2-selective-bad-proof": _same("log"),
    "fail-3-time-reversed": _same("time"),
    "fail-4-exhibit-chain-broken": _same("exhibit-chains"),
    # Signed by another key, with a policy.txt and a case.policy_set naming that key: only a
    # trusted policy tells (which also differs from the recorded one, and verifies no
    # cosignature once the log signature fails: two warnings).
    "fail-5-swapped-log-key": Expected(frozenset(), frozenset({"signatures"}), trusted_warnings=2),
    "fail-5-quorum-not-met": _same("signatures"),
    "fail-5-bad-cosignature": _same("signatures"),
    # policy.txt (quorum none) is not the logged policy; with its own policy the bundle
    # also rests on the log key alone.
    "fail-5-policy-not-logged": Expected(
        frozenset({"signatures"}), frozenset({"signatures"}), own_warnings=2
    ),
    "fail-6-content-altered": _same("content"),
    "fail-7-access-without-share": _same("replay"),
    "fail-7-ingest-after-seal": _same("replay"),
    "fail-7-event-after-disposal": _same("replay"),
    **{name: _same("replay") for name in RULE_BREAKS},
}

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "data" / "golden"


def trusted_policy() -> str:
    """The policy a court would get from the states' authorities (both witnesses, all)."""
    return policy_for(Bundle([]))


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else GOLDEN_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name, make in SCENARIOS.items():
        (out / f"{name}.zip").write_bytes(render(make()))
    (out / "trusted-policy.txt").write_text(trusted_policy(), encoding="utf-8")
    print(f"wrote {len(SCENARIOS)} bundles to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
