"""spec 6 check 5: which policy is trusted, the log signature, the witnesses, the quorum."""

from __future__ import annotations

from datetime import UTC, datetime

from custody.bundle import POLICY, BundleReader
from custody.checkpoint import Checkpoint
from custody.errors import BundleFormatError, FormatError, QuorumNotMetError, SignatureError
from custody.note import Note
from custody.policy import Policy, verify_cosigned_checkpoint
from custody.verify.results import STALE_COSIGNATURE, CheckId, PolicySource, Recorder

SIGNATURES = CheckId.SIGNATURES


def load_policy(
    reader: BundleReader | None, policy_text: str | None, rec: Recorder
) -> tuple[Policy | None, PolicySource]:
    """The user's policy if given, else the bundle's policy.txt (spec 5: the exporter's
    claim); None, with a finding, when it cannot be read or parsed."""
    source: PolicySource = "user" if policy_text is not None else "bundle"
    if policy_text is None:
        policy_text = _bundle_policy_text(reader, rec)
        if policy_text is None:
            return None, source
    try:
        return Policy.parse(policy_text), source
    except FormatError as exc:
        rec.fail(SIGNATURES, SignatureError, f"policy ({source}) cannot be parsed: {exc}")
        return None, source


def _bundle_policy_text(reader: BundleReader | None, rec: Recorder) -> str | None:
    if reader is None or not reader.has(POLICY):
        rec.fail(SIGNATURES, SignatureError, f"{POLICY} is missing and no policy was given")
        return None
    try:
        return reader.read(POLICY).decode("utf-8")
    except UnicodeDecodeError:
        rec.fail(SIGNATURES, SignatureError, f"{POLICY} is not UTF-8")
    except BundleFormatError as exc:  # corrupt or oversized: a finding, like checkpoint
        rec.fail(SIGNATURES, SignatureError, f"{POLICY} cannot be read: {exc}")
    return None


def check_checkpoint(
    note: Note, policy: Policy | None, origin: str, created: str | None, rec: Recorder
) -> tuple[Checkpoint | None, tuple[str, ...]]:
    """spec 6.5: log signature, known witnesses' cosignatures, quorum. Returns the
    checkpoint (None if its body is malformed) and the witnesses whose cosignature verified."""
    try:
        checkpoint = Checkpoint.parse_body(note.text)
    except FormatError as exc:
        rec.fail(SIGNATURES, SignatureError, f"checkpoint body is malformed: {exc}")
        return None, ()
    if checkpoint.extensions:
        rec.fail(SIGNATURES, SignatureError, "checkpoint has extension lines (spec 4: none)")
    if checkpoint.origin != origin:
        rec.fail(
            SIGNATURES,
            SignatureError,
            f"checkpoint origin {checkpoint.origin!r} is not the bundle's {origin!r}",
        )
    if policy is None:
        return checkpoint, ()
    try:
        verdict = verify_cosigned_checkpoint(note, policy, origin=origin)
    except SignatureError as exc:
        rec.fail(SIGNATURES, SignatureError, str(exc))
        return checkpoint, ()
    except FormatError as exc:
        rec.fail(SIGNATURES, SignatureError, f"checkpoint cannot be checked: {exc}")
        return checkpoint, ()
    for name in verdict.bad_signatures:
        rec.fail(SIGNATURES, SignatureError, f"cosignature of witness {name!r} does not verify")
    if not verdict.quorum_met:
        rec.fail(
            SIGNATURES,
            QuorumNotMetError,
            "the policy's witness quorum is not met (cosigned by: "
            f"{', '.join(sorted(verdict.cosigners)) or 'none'})",
        )
    if created is not None and verdict.timestamps:
        _warn_if_stale(created, max(verdict.timestamps.values()), rec)
    return checkpoint, tuple(sorted(verdict.cosigners))


def _warn_if_stale(created: str, newest_cosignature: int, rec: Recorder) -> None:
    """spec 6 warnings: the newest cosignature is older than the bundle by over a day."""
    try:
        created_at = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return
    if created_at.tzinfo is None:
        return
    newest = datetime.fromtimestamp(newest_cosignature, tz=UTC)
    if created_at - newest > STALE_COSIGNATURE:
        rec.warn(
            SIGNATURES,
            f"the newest cosignature ({newest.isoformat()}) is more than a day "
            f"older than the bundle ({created})",
        )
