"""Proof files: a selective bundle's per-entry tlog-proofs (spec 6.2), and one tlog-proof
checked on its own against a trusted policy (`verify_proof`, `jitc verify FILE.tlog-proof`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from custody.bundle import BundleReader
from custody.checkpoint import Checkpoint
from custody.entry import Entry
from custody.errors import BundleFormatError, EntryFormatError, FormatError, InclusionProofError
from custody.merkle import leaf_hash, verify_inclusion
from custody.tlogproof import MAX_PROOF_BYTES, TlogProof
from custody.verify.results import (
    PROOF_CHECKS,
    CheckId,
    Recorder,
    VerificationReport,
    new_checks,
)
from custody.verify.signatures import check_checkpoint, load_policy, operator_only_warning

LOG = CheckId.LOG


def check_entry_proof(
    reader: BundleReader,
    proof_names: Mapping[int, str],
    entry: Entry,
    line: bytes,
    leaf: bytes,
    checkpoint: Checkpoint | None,
    rec: Recorder,
) -> None:
    """spec 6.2, selective: the entry's tlog-proof against the bundle's checkpoint."""
    name = proof_names.get(entry.seq)
    if name is None:
        rec.fail(LOG, InclusionProofError, "no tlog-proof for this entry", entry.seq)
        return
    try:
        proof = TlogProof.parse(reader.read(name, limit=MAX_PROOF_BYTES))
    except (FormatError, BundleFormatError) as exc:
        rec.fail(LOG, InclusionProofError, f"{name} is malformed: {exc}", entry.seq)
        return
    if checkpoint is None:
        rec.fail(LOG, InclusionProofError, "no valid checkpoint to check proofs against")
        return
    if proof.index != entry.seq:
        rec.fail(LOG, InclusionProofError, f"{name} proves index {proof.index}", entry.seq)
        return
    if proof.checkpoint.text != checkpoint.body():
        rec.fail(LOG, InclusionProofError, f"{name} is against another checkpoint", entry.seq)
        return
    if proof.extra and proof.extra != line:
        rec.fail(LOG, InclusionProofError, f"{name} carries another entry as extra", entry.seq)
    try:
        verify_inclusion(leaf, entry.seq, checkpoint.size, list(proof.hashes), checkpoint.root_hash)
    except InclusionProofError as exc:
        rec.fail(LOG, InclusionProofError, f"inclusion proof fails: {exc}", entry.seq)


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
    checks = new_checks(PROOF_CHECKS)
    rec = Recorder(checks, raising=raise_on_failure)
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
    policy, _, _ = load_policy(None, policy_text, rec)
    # The origin comes from the proof's own checkpoint; the policy must hold a log key for
    # it (tlog-policy: any of the listed logs is accepted).
    origin = Checkpoint.parse_body(proof.checkpoint.text).origin
    checkpoint, report.cosigners = check_checkpoint(proof.checkpoint, policy, origin, None, rec)
    report.checkpoint = checkpoint
    report.operator_only = operator_only_warning(policy, report.cosigners)
    if report.operator_only is not None:
        rec.warn(CheckId.SIGNATURES, report.operator_only)
    line = entry_line if entry_line is not None else (proof.extra or None)
    if line is None:
        rec.fail(
            CheckId.FORMAT,
            EntryFormatError,
            "no entry to check: give --entry or a proof with extra",
        )
        return report
    _check_proven_entry(proof, line.rstrip(b"\n"), checkpoint, origin, rec, report)
    report.warnings = rec.warnings
    return report


def _check_proven_entry(
    proof: TlogProof,
    line: bytes,
    checkpoint: Checkpoint | None,
    origin: str,
    rec: Recorder,
    report: VerificationReport,
) -> None:
    """The entry is well-formed, is the one the proof's index names, and is in the log."""
    try:
        entry = Entry.parse(line)
    except EntryFormatError as exc:
        rec.fail(CheckId.FORMAT, EntryFormatError, str(exc))
        return
    report.entries = 1
    if entry.seq != proof.index:
        rec.fail(
            CheckId.FORMAT,
            EntryFormatError,
            f"the entry is seq {entry.seq}, the proof index {proof.index}",
        )
    if checkpoint is None:
        rec.fail(LOG, InclusionProofError, "no valid checkpoint")
        return
    if not origin.endswith(f"/case/{entry.case}"):
        rec.fail(CheckId.FORMAT, EntryFormatError, f"entry case {entry.case} is not the log's case")
    try:
        verify_inclusion(
            leaf_hash(line), proof.index, checkpoint.size, list(proof.hashes), checkpoint.root_hash
        )
    except InclusionProofError as exc:
        rec.fail(LOG, InclusionProofError, f"inclusion proof fails: {exc}")
