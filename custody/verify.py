"""The offline verifier of court bundles and tlog-proofs (spec 6).

Two modes (STYLE habit 3): `verify_bundle(...)` runs every check and returns a report that
lists each with its result, for a court; `verify_bundle(..., raise_on_failure=True)` raises
the specific VerificationError of the first failure, for library callers.

Nothing here reads a clock, the network or randomness: the caller passes `now` if it wants
it on the report. The bundle is streamed; memory grows with the number of entries only by
their 32-byte leaf hashes and per-exhibit state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final, Literal

import blake3

from custody.bundle import (
    CHECKPOINT,
    ENTRIES,
    MANIFEST,
    POLICY,
    BundleReader,
    Manifest,
)
from custody.checkpoint import Checkpoint
from custody.entry import ZERO_HEX, Entry, parse_time
from custody.errors import (
    BundleFormatError,
    ChainBrokenError,
    ContentMismatchError,
    CustodyError,
    EntryFormatError,
    FormatError,
    InclusionProofError,
    QuorumNotMetError,
    ReplayError,
    RootMismatchError,
    SignatureError,
    TimeReversedError,
)
from custody.events import COURT_ROLES
from custody.merkle import CompactRange, leaf_hash, verify_inclusion
from custody.note import Note
from custody.policy import Policy, verify_cosigned_checkpoint
from custody.tlogproof import MAX_PROOF_BYTES, TlogProof

Status = Literal["pass", "fail", "skip"]
PolicySource = Literal["bundle", "user"]

# spec 6: the seven checks, in order. Ids are stable: machines key on them.
CHECKS: Final[tuple[tuple[str, str], ...]] = (
    ("format", "entries and manifest are canonical and well-formed"),
    ("log", "sequence, hash chain and Merkle root match the checkpoint"),
    ("time", "entry times never decrease along seq"),
    ("exhibit-chains", "each exhibit's custody chain is unbroken"),
    ("signatures", "checkpoint signed by the log key, cosignatures verify, quorum met"),
    ("content", "included exhibit content matches the recorded size and hashes"),
    ("replay", "custody rules hold when the log is replayed"),
)
SELECTIVE_LOG_TITLE: Final = "inclusion proofs verify and disclosed exhibits' chains are unbroken"

# A report keeps this many findings per check (plus a count), so a bundle with a million
# bad entries still yields a bounded report.
MAX_FINDINGS_PER_CHECK: Final = 50
STALE_COSIGNATURE: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    message: str
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "message": self.message, "seq": self.seq}


@dataclass(slots=True)
class CheckResult:
    id: str
    number: int
    title: str
    status: Status = "pass"
    findings: list[Finding] = field(default_factory=list)
    finding_count: int = 0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "finding_count": self.finding_count,
            "findings": [finding.to_json() for finding in self.findings],
        }


@dataclass(slots=True)
class VerificationReport:
    """Every check with its result, the warnings, and which policy was trusted."""

    subject: str
    kind: Literal["bundle", "proof"]
    checks: list[CheckResult]
    warnings: list[Finding] = field(default_factory=list)
    policy_source: PolicySource = "bundle"
    manifest: Manifest | None = None
    checkpoint: Checkpoint | None = None
    cosigners: tuple[str, ...] = ()
    entries: int = 0
    verified_at: str | None = None

    @property
    def ok(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    def check(self, check_id: str) -> CheckResult:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def failures(self) -> list[Finding]:
        return [finding for check in self.checks for finding in check.findings]

    def to_json(self) -> dict[str, Any]:
        manifest = self.manifest
        return {
            "subject": self.subject,
            "kind": self.kind,
            "ok": self.ok,
            "policy_source": self.policy_source,
            "case": manifest.case if manifest else None,
            "origin": manifest.origin if manifest else None,
            "disclosure": manifest.disclosure if manifest else None,
            "tree_size": self.checkpoint.size if self.checkpoint else None,
            "entries": self.entries,
            "cosigners": list(self.cosigners),
            "verified_at": self.verified_at,
            "checks": [check.to_json() for check in self.checks],
            "warnings": [warning.to_json() for warning in self.warnings],
        }


class _Recorder:
    """Collects findings; in raising mode turns the first failure into its exception."""

    def __init__(self, checks: list[CheckResult], *, raising: bool) -> None:
        self._checks = {check.id: check for check in checks}
        self._raising = raising
        self.warnings: list[Finding] = []

    def fail(
        self,
        check_id: str,
        error: type[CustodyError],
        message: str,
        seq: int | None = None,
    ) -> None:
        check = self._checks[check_id]
        check.status = "fail"
        check.finding_count += 1
        text = message if seq is None else f"entry seq {seq}: {message}"
        if self._raising:
            raise error(text)
        if len(check.findings) < MAX_FINDINGS_PER_CHECK:
            check.findings.append(Finding(check_id, text, seq))

    def warn(self, check_id: str, message: str, seq: int | None = None) -> None:
        if len(self.warnings) < MAX_FINDINGS_PER_CHECK * 4:
            text = message if seq is None else f"entry seq {seq}: {message}"
            self.warnings.append(Finding(check_id, text, seq))

    def skip(self, check_id: str, why: str) -> None:
        check = self._checks[check_id]
        if check.status == "pass":
            check.status = "skip"
            check.detail = why


def _new_checks(selective: bool) -> list[CheckResult]:
    results = []
    for number, (check_id, title) in enumerate(CHECKS, start=1):
        shown = SELECTIVE_LOG_TITLE if check_id == "log" and selective else title
        results.append(CheckResult(id=check_id, number=number, title=shown))
    return results


@dataclass(slots=True)
class _ExhibitState:
    """What replay knows of one exhibit at the current point of the log (spec 6.7)."""

    owner: str | None = None
    shares: set[str] = field(default_factory=set)
    ingested: Mapping[str, Any] | None = None
    sealed: bool = False
    disposed: bool = False
    last_leaf: str = ZERO_HEX
    entries: int = 0


@dataclass(slots=True)
class _Replay:
    grants: set[tuple[str, str, str]] = field(default_factory=set)
    exhibits: dict[str, _ExhibitState] = field(default_factory=dict)

    def state(self, exhibit: str) -> _ExhibitState:
        found = self.exhibits.get(exhibit)
        if found is None:
            found = self.exhibits[exhibit] = _ExhibitState()
        return found


def _apply(entry: Entry, replay: _Replay, rec: _Recorder) -> None:
    """spec 6.7: replay one entry against the custody rules."""
    data = entry.data
    kind = entry.type
    if kind == "case.access_granted":
        replay.grants.add((data["jurisdiction"], data["sub"], data["role"]))
        return
    if kind == "case.access_revoked":
        replay.grants.discard((data["jurisdiction"], data["sub"], data["role"]))
        return
    if entry.exhibit is None:
        return
    state = replay.state(entry.exhibit)
    if state.disposed:
        rec.fail(
            "replay",
            ReplayError,
            f"{kind} on exhibit {entry.exhibit} after it was disposed",
            entry.seq,
        )
    if kind == "exhibit.registered":
        if state.owner is None:
            state.owner = data["owner"]
    elif kind == "exhibit.ingested":
        if state.ingested is not None:
            rec.fail(
                "replay",
                ReplayError,
                f"exhibit {entry.exhibit} ingested a second time (content must never change)",
                entry.seq,
            )
        if state.sealed:
            rec.fail(
                "replay",
                ReplayError,
                f"exhibit {entry.exhibit} ingested after it was sealed",
                entry.seq,
            )
        if state.ingested is None:
            state.ingested = data
    elif kind == "exhibit.sealed":
        state.sealed = True
    elif kind == "exhibit.shared":
        state.shares.add(data["jurisdiction"])
    elif kind == "exhibit.share_revoked":
        state.shares.discard(data["jurisdiction"])
    elif kind == "exhibit.disposed":
        state.disposed = True
    elif kind == "exhibit.accessed":
        actor = entry.actor
        allowed = (
            actor.jurisdiction == state.owner
            or actor.jurisdiction in state.shares
            or (
                actor.role in COURT_ROLES
                and (actor.jurisdiction, actor.sub, actor.role) in replay.grants
            )
        )
        if not allowed:
            rec.fail(
                "replay",
                ReplayError,
                f"exhibit {entry.exhibit} accessed by {actor.jurisdiction}/{actor.sub} "
                f"({actor.role}), who neither owned it, held an unrevoked share of it, "
                "nor was granted court access to the case",
                entry.seq,
            )
    elif kind == "exhibit.verified" and data.get("ok") is False:
        rec.warn(
            "replay",
            f"exhibit {entry.exhibit}: re-verification found storage altered at this point",
            entry.seq,
        )


def _load_policy(
    reader: BundleReader | None, policy_text: str | None, rec: _Recorder
) -> tuple[Policy | None, PolicySource]:
    source: PolicySource = "user" if policy_text is not None else "bundle"
    if policy_text is None:
        if reader is None or not reader.has(POLICY):
            rec.fail("signatures", SignatureError, f"{POLICY} is missing and no policy was given")
            return None, source
        try:
            policy_text = reader.read(POLICY).decode("utf-8")
        except UnicodeDecodeError:
            rec.fail("signatures", SignatureError, f"{POLICY} is not UTF-8")
            return None, source
        except BundleFormatError as exc:  # corrupt or oversized: a finding, like checkpoint
            rec.fail("signatures", SignatureError, f"{POLICY} cannot be read: {exc}")
            return None, source
    try:
        return Policy.parse(policy_text), source
    except FormatError as exc:
        rec.fail("signatures", SignatureError, f"policy ({source}) cannot be parsed: {exc}")
        return None, source


def _check_checkpoint(
    note: Note, policy: Policy | None, origin: str, created: str | None, rec: _Recorder
) -> tuple[Checkpoint | None, tuple[str, ...]]:
    """spec 6.5: log signature, known witnesses' cosignatures, quorum."""
    try:
        checkpoint = Checkpoint.parse_body(note.text)
    except FormatError as exc:
        rec.fail("signatures", SignatureError, f"checkpoint body is malformed: {exc}")
        return None, ()
    if checkpoint.extensions:
        rec.fail("signatures", SignatureError, "checkpoint has extension lines (spec 4: none)")
    if checkpoint.origin != origin:
        rec.fail(
            "signatures",
            SignatureError,
            f"checkpoint origin {checkpoint.origin!r} is not the bundle's {origin!r}",
        )
    if policy is None:
        return checkpoint, ()
    try:
        verdict = verify_cosigned_checkpoint(note, policy, origin=origin)
    except SignatureError as exc:
        rec.fail("signatures", SignatureError, str(exc))
        return checkpoint, ()
    except FormatError as exc:
        rec.fail("signatures", SignatureError, f"checkpoint cannot be checked: {exc}")
        return checkpoint, ()
    for name in verdict.bad_signatures:
        rec.fail("signatures", SignatureError, f"cosignature of witness {name!r} does not verify")
    if not verdict.quorum_met:
        rec.fail(
            "signatures",
            QuorumNotMetError,
            "the policy's witness quorum is not met (cosigned by: "
            f"{', '.join(sorted(verdict.cosigners)) or 'none'})",
        )
    if created is not None and verdict.timestamps:
        try:
            created_at = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            created_at = None
        if created_at is not None and created_at.tzinfo is not None:
            newest = datetime.fromtimestamp(max(verdict.timestamps.values()), tz=UTC)
            if created_at - newest > STALE_COSIGNATURE:
                rec.warn(
                    "signatures",
                    f"the newest cosignature ({newest.isoformat()}) is more than a day "
                    f"older than the bundle ({created})",
                )
    return checkpoint, tuple(sorted(verdict.cosigners))


def _hash_stream(chunks: Iterator[bytes]) -> tuple[int, str, str]:
    sha = hashlib.sha256()
    b3 = blake3.blake3()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        sha.update(chunk)
        b3.update(chunk)
    return size, sha.hexdigest(), b3.hexdigest()


def _check_content(
    reader: BundleReader,
    manifest: Manifest,
    replay: _Replay,
    rec: _Recorder,
    *,
    entries_read: bool,
) -> None:
    """spec 6.6: content files against the manifest and the exhibit.ingested entry.

    `entries_read` is False when entries.jsonl is missing or could not be read to its end:
    a missing exhibit.ingested entry then proves nothing and is not reported."""
    for exhibit in manifest.exhibits:
        ingested = replay.exhibits.get(exhibit.id, _ExhibitState()).ingested
        recorded = (
            None if ingested is None else (ingested["size"], ingested["sha256"], ingested["blake3"])
        )
        claimed = (exhibit.size, exhibit.sha256, exhibit.blake3)
        if recorded is not None and claimed != recorded:
            rec.fail(
                "content",
                ContentMismatchError,
                f"exhibit {exhibit.id}: manifest size/hashes differ from its exhibit.ingested "
                "entry",
            )
        if exhibit.content is None:
            continue
        if not exhibit.content.startswith(f"exhibits/{exhibit.id}/"):
            rec.fail(
                "content",
                ContentMismatchError,
                f"exhibit {exhibit.id}: content path {exhibit.content!r} is outside "
                f"exhibits/{exhibit.id}/",
            )
            continue
        if not reader.has(exhibit.content):
            rec.fail(
                "content",
                ContentMismatchError,
                f"exhibit {exhibit.id}: content file {exhibit.content!r} is missing",
            )
            continue
        if recorded is None and entries_read:
            rec.fail(
                "content",
                ContentMismatchError,
                f"exhibit {exhibit.id}: content is included but no exhibit.ingested entry "
                "records its hashes",
            )
        try:
            actual = _hash_stream(reader.stream(exhibit.content))
        except BundleFormatError as exc:
            rec.fail("content", ContentMismatchError, f"exhibit {exhibit.id}: {exc}")
            continue
        if actual != claimed:
            rec.fail(
                "content",
                ContentMismatchError,
                f"exhibit {exhibit.id}: content is {actual[0]} bytes, sha256 {actual[1]}, "
                f"blake3 {actual[2]}; the manifest says {claimed[0]} bytes, sha256 "
                f"{claimed[1]}, blake3 {claimed[2]}",
            )
        elif recorded is not None and actual != recorded:
            rec.fail(
                "content",
                ContentMismatchError,
                f"exhibit {exhibit.id}: content differs from its exhibit.ingested entry",
            )


def verify_bundle(
    source: str | Path | IO[bytes],
    *,
    policy_text: str | None = None,
    now: datetime | None = None,
    raise_on_failure: bool = False,
) -> VerificationReport:
    """Verify a court bundle (spec 6). Raises BundleFormatError if it cannot be read at all.

    `policy_text`: a tlog-policy the user trusts; without it the bundle's own policy.txt is
    used, and the report says so (spec 5: keys inside a bundle only say what the exporter
    claims).
    """
    with BundleReader(source) as reader:
        manifest, manifest_canonical = reader.manifest()
        selective = manifest.disclosure == "selective"
        checks = _new_checks(selective)
        rec = _Recorder(checks, raising=raise_on_failure)
        report = VerificationReport(
            subject=str(source) if isinstance(source, str | Path) else "<stream>",
            kind="bundle",
            checks=checks,
            manifest=manifest,
            verified_at=None if now is None else now.astimezone(UTC).isoformat(),
        )
        if not manifest_canonical:
            rec.fail("format", EntryFormatError, f"{MANIFEST} is not RFC 8785 canonical")
        try:
            parse_time(manifest.created)
        except EntryFormatError:
            # The stale-cosignature warning compares against `created`; an unreadable one
            # must not silently switch that warning off.
            rec.fail(
                "format",
                EntryFormatError,
                f"manifest created {manifest.created!r} is not RFC 3339 UTC with microseconds"
                " and Z (the format of entry times, spec 2)",
            )
        if selective:
            checks[1].detail = (
                "each disclosed entry is proven to be in the signed log; a selective bundle "
                "cannot prove that no later entry was withheld"
            )
        if not manifest.origin.endswith(f"/case/{manifest.case}"):
            rec.fail(
                "format",
                EntryFormatError,
                f"origin {manifest.origin!r} is not '<log name>/case/{manifest.case}'",
            )

        # spec 6.5 first: the checkpoint gives the root that check 2 compares against.
        policy, report.policy_source = _load_policy(reader, policy_text, rec)
        note: Note | None = None
        if not reader.has(CHECKPOINT):
            rec.fail("signatures", SignatureError, f"{CHECKPOINT} is missing")
        else:
            try:
                note = Note.parse(reader.read(CHECKPOINT))
            except FormatError as exc:
                rec.fail("signatures", SignatureError, f"checkpoint note is malformed: {exc}")
        checkpoint: Checkpoint | None = None
        if note is not None:
            checkpoint, report.cosigners = _check_checkpoint(
                note, policy, manifest.origin, manifest.created, rec
            )
        report.checkpoint = checkpoint
        if checkpoint is not None and checkpoint.size != manifest.tree_size:
            rec.fail(
                "log",
                RootMismatchError,
                f"checkpoint size {checkpoint.size} is not the manifest's tree_size "
                f"{manifest.tree_size}",
            )

        replay = _Replay()
        entries_read = False
        if not reader.has(ENTRIES):
            rec.fail("format", EntryFormatError, f"{ENTRIES} is missing")
        else:
            entries_read = _walk_entries(reader, manifest, checkpoint, replay, rec, report)
        if not entries_read:
            # Checks over the entries cannot pass on entries never read: say so, not "pass".
            for check_id in ("log", "time", "exhibit-chains", "replay"):
                rec.skip(check_id, f"{ENTRIES} is missing or could not be read to its end")

        if selective and entries_read:
            for exhibit in manifest.exhibits:
                if exhibit.id not in replay.exhibits:
                    rec.fail(
                        "log",
                        ChainBrokenError,
                        f"disclosed exhibit {exhibit.id} has no entries in the bundle",
                    )
        _check_content(reader, manifest, replay, rec, entries_read=entries_read)
        report.warnings = rec.warnings
        if report.checks[5].status == "pass" and not any(
            exhibit.content for exhibit in manifest.exhibits
        ):
            report.checks[5].detail = "no content included (hashes only)"
        return report


def _walk_entries(
    reader: BundleReader,
    manifest: Manifest,
    checkpoint: Checkpoint | None,
    replay: _Replay,
    rec: _Recorder,
    report: VerificationReport,
) -> bool:
    """One streaming pass over entries.jsonl for checks 1, 2, 3, 4 and 7.

    Return whether the member was read to its end."""
    selective = manifest.disclosure == "selective"
    proof_names = reader.proof_names() if selective else {}
    # O(log n) memory however many lines a hostile entries.jsonl holds.
    tree = CompactRange()
    previous_seq = -1
    previous_leaf: bytes | None = None
    previous_time = ""
    count = 0
    try:
        for line in reader.lines(ENTRIES):
            try:
                entry: Entry | None = Entry.parse(line)
            except EntryFormatError as exc:
                rec.fail("format", EntryFormatError, f"line {count + 1}: {exc}")
                try:
                    entry = Entry.parse_noncanonical(line)
                except EntryFormatError:
                    entry = None
            # The leaf hash of the bytes as given, canonical or not (RFC 9162 2.1.1).
            leaf = entry.leaf if entry is not None else leaf_hash(line)
            seq = entry.seq if entry is not None else None
            # spec 6.2, full bundle: seq runs 0..n-1 and prev links each to the one before.
            if not selective:
                tree.push(leaf)
                if entry is not None:
                    if entry.seq != count:
                        rec.fail(
                            "log",
                            ChainBrokenError,
                            f"seq is {entry.seq}, expected {count} (gap or reordering)",
                            entry.seq,
                        )
                    expected_prev = ZERO_HEX if previous_leaf is None else previous_leaf.hex()
                    if entry.prev != expected_prev:
                        rec.fail(
                            "log",
                            ChainBrokenError,
                            "prev is not the leaf hash of the entry before",
                            entry.seq,
                        )
            elif entry is not None:
                if entry.seq <= previous_seq:
                    rec.fail("log", ChainBrokenError, "entries are not in seq order", entry.seq)
                if (
                    previous_leaf is not None
                    and entry.seq == previous_seq + 1
                    and entry.prev != previous_leaf.hex()
                ):
                    rec.fail(
                        "log",
                        ChainBrokenError,
                        "prev is not the leaf hash of the entry before",
                        entry.seq,
                    )
                _check_proof(reader, proof_names, entry, line, leaf, checkpoint, rec)
            if entry is None:
                previous_leaf = leaf
                count += 1
                continue
            if entry.case != manifest.case:
                rec.fail(
                    "format",
                    EntryFormatError,
                    f"case {entry.case} is not the bundle's case {manifest.case}",
                    seq,
                )
            # spec 6.3: time never decreases (fixed-width RFC 3339 UTC sorts as text).
            if entry.time < previous_time:
                rec.fail(
                    "time",
                    TimeReversedError,
                    f"time {entry.time} is earlier than the entry before ({previous_time})",
                    entry.seq,
                )
            else:
                previous_time = entry.time
            if not entry.known_type:
                rec.warn("format", f"unknown event type {entry.type!r}", entry.seq)
            # spec 6.4 (and 6.2 for selective bundles): the exhibit's own chain.
            if entry.exhibit is not None:
                state = replay.state(entry.exhibit)
                if entry.exhibit_prev != state.last_leaf:
                    message = (
                        f"exhibit_prev breaks the chain of exhibit {entry.exhibit} "
                        f"(expected {state.last_leaf[:16]}...)"
                    )
                    rec.fail("exhibit-chains", ChainBrokenError, message, entry.seq)
                    if selective:
                        rec.fail("log", ChainBrokenError, message, entry.seq)
                state.last_leaf = entry.leaf_hex()
                state.entries += 1
            _apply(entry, replay, rec)
            previous_seq = entry.seq
            previous_leaf = leaf
            count += 1
    except BundleFormatError as exc:
        rec.fail("format", EntryFormatError, str(exc))
        report.entries = count
        return False
    report.entries = count
    if selective:
        return True
    # spec 6.2: n = tree_size and the RFC 9162 root over all leaves equals the checkpoint's.
    if count != manifest.tree_size:
        rec.fail(
            "log",
            ChainBrokenError,
            f"{ENTRIES} has {count} entries, tree_size is {manifest.tree_size}",
        )
    if checkpoint is None:
        rec.fail("log", RootMismatchError, "no valid checkpoint to compare the root with")
    elif tree.root() != checkpoint.root_hash:
        rec.fail(
            "log",
            RootMismatchError,
            "the Merkle root over the entries differs from the checkpoint's root",
        )
    return True


def _check_proof(
    reader: BundleReader,
    proof_names: Mapping[int, str],
    entry: Entry,
    line: bytes,
    leaf: bytes,
    checkpoint: Checkpoint | None,
    rec: _Recorder,
) -> None:
    """spec 6.2, selective: the entry's tlog-proof against the bundle's checkpoint."""
    name = proof_names.get(entry.seq)
    if name is None:
        rec.fail("log", InclusionProofError, "no tlog-proof for this entry", entry.seq)
        return
    try:
        proof = TlogProof.parse(reader.read(name, limit=MAX_PROOF_BYTES))
    except (FormatError, BundleFormatError) as exc:
        rec.fail("log", InclusionProofError, f"{name} is malformed: {exc}", entry.seq)
        return
    if checkpoint is None:
        rec.fail("log", InclusionProofError, "no valid checkpoint to check proofs against")
        return
    if proof.index != entry.seq:
        rec.fail("log", InclusionProofError, f"{name} proves index {proof.index}", entry.seq)
        return
    if proof.checkpoint.text != checkpoint.body():
        rec.fail("log", InclusionProofError, f"{name} is against another checkpoint", entry.seq)
        return
    if proof.extra and proof.extra != line:
        rec.fail("log", InclusionProofError, f"{name} carries another entry as extra", entry.seq)
    try:
        verify_inclusion(leaf, entry.seq, checkpoint.size, list(proof.hashes), checkpoint.root_hash)
    except InclusionProofError as exc:
        rec.fail("log", InclusionProofError, f"inclusion proof fails: {exc}", entry.seq)


PROOF_CHECKS: Final[tuple[tuple[str, str], ...]] = (
    ("format", "the proof and the entry are well-formed"),
    ("log", "the inclusion proof leads to the checkpoint's root"),
    ("signatures", "checkpoint signed by the log key, cosignatures verify, quorum met"),
)


def verify_proof(
    proof_bytes: bytes,
    *,
    policy_text: str,
    entry_line: bytes | None = None,
    subject: str = "<proof>",
    now: datetime | None = None,
    raise_on_failure: bool = False,
) -> VerificationReport:
    """Verify one tlog-proof offline against a trusted policy.

    The entry is taken from `entry_line` or, failing that, from the proof's `extra` line,
    which our bundles fill with the entry's canonical bytes. Extra data is unauthenticated
    (C2SP tlog-proof): it is trusted only because the inclusion proof then covers it.
    """
    checks = [
        CheckResult(id=check_id, number=number, title=title)
        for number, (check_id, title) in enumerate(PROOF_CHECKS, start=1)
    ]
    rec = _Recorder(checks, raising=raise_on_failure)
    report = VerificationReport(
        subject=subject,
        kind="proof",
        checks=checks,
        policy_source="user",
        verified_at=None if now is None else now.astimezone(UTC).isoformat(),
    )
    try:
        proof = TlogProof.parse(proof_bytes)
    except FormatError as exc:
        raise BundleFormatError(f"not a tlog-proof: {exc}") from None
    policy, _ = _load_policy(None, policy_text, rec)
    # The origin comes from the proof's own checkpoint; the policy must hold a log key for
    # it (tlog-policy: any of the listed logs is accepted).
    origin = Checkpoint.parse_body(proof.checkpoint.text).origin
    checkpoint, report.cosigners = _check_checkpoint(proof.checkpoint, policy, origin, None, rec)
    report.checkpoint = checkpoint
    line = entry_line if entry_line is not None else (proof.extra or None)
    if line is None:
        rec.fail(
            "format", EntryFormatError, "no entry to check: give --entry or a proof with extra"
        )
        return report
    line = line.rstrip(b"\n")
    try:
        entry = Entry.parse(line)
    except EntryFormatError as exc:
        rec.fail("format", EntryFormatError, str(exc))
        return report
    report.entries = 1
    if entry.seq != proof.index:
        rec.fail(
            "format",
            EntryFormatError,
            f"the entry is seq {entry.seq}, the proof index {proof.index}",
        )
    if checkpoint is None:
        rec.fail("log", InclusionProofError, "no valid checkpoint")
        return report
    if not origin.endswith(f"/case/{entry.case}"):
        rec.fail("format", EntryFormatError, f"entry case {entry.case} is not the log's case")
    try:
        verify_inclusion(
            leaf_hash(line), proof.index, checkpoint.size, list(proof.hashes), checkpoint.root_hash
        )
    except InclusionProofError as exc:
        rec.fail("log", InclusionProofError, f"inclusion proof fails: {exc}")
    report.warnings = rec.warnings
    return report


__all__ = [
    "CHECKS",
    "CheckResult",
    "CustodyError",
    "Finding",
    "VerificationReport",
    "verify_bundle",
    "verify_proof",
]
