"""spec 6 check 5: which policy is trusted, the log signature, the witnesses, the quorum."""

from __future__ import annotations

from datetime import UTC, datetime

from custody.bundle import POLICY, BundleReader
from custody.checkpoint import Checkpoint
from custody.errors import BundleFormatError, FormatError, QuorumNotMetError, SignatureError
from custody.note import Note
from custody.policy import Policy, verify_cosigned_checkpoint
from custody.verify.results import (
    POLICY_FROM_BUNDLE,
    STALE_COSIGNATURE,
    CheckId,
    PolicySource,
    Recorder,
)

SIGNATURES = CheckId.SIGNATURES


def load_policy(
    reader: BundleReader | None, policy_text: str | None, rec: Recorder
) -> tuple[Policy | None, PolicySource, str | None]:
    """The user's policy if given, else the bundle's policy.txt (spec 5: the exporter's
    claim); None, with a finding, when it cannot be read or parsed. Also returns the text
    of the bundle's policy.txt (None if absent or unreadable), which check 5 compares with
    the policy the log recorded."""
    source: PolicySource = "user" if policy_text is not None else "bundle"
    # With the user's policy, the bundle's is only compared with the log: a missing or
    # unreadable policy.txt is then no finding (nothing rests on it).
    bundle_text = _bundle_policy_text(reader, rec if policy_text is None else None)
    if policy_text is None:
        if bundle_text is None:
            return None, source, None
        policy_text = bundle_text
        rec.warn(SIGNATURES, POLICY_FROM_BUNDLE)
    try:
        return Policy.parse(policy_text), source, bundle_text
    except FormatError as exc:
        rec.fail(SIGNATURES, SignatureError, f"policy ({source}) cannot be parsed: {exc}")
        return None, source, bundle_text


def _bundle_policy_text(reader: BundleReader | None, rec: Recorder | None) -> str | None:
    if reader is None or not reader.has(POLICY):
        if rec is not None:
            rec.fail(SIGNATURES, SignatureError, f"{POLICY} is missing and no policy was given")
        return None
    try:
        return reader.read(POLICY).decode("utf-8")
    except UnicodeDecodeError:
        if rec is not None:
            rec.fail(SIGNATURES, SignatureError, f"{POLICY} is not UTF-8")
    except BundleFormatError as exc:  # corrupt or oversized: a finding, like checkpoint
        if rec is not None:
            rec.fail(SIGNATURES, SignatureError, f"{POLICY} cannot be read: {exc}")
    return None


def check_logged_policy(
    bundle_text: str | None,
    logged: str | None,
    logged_seq: int | None,
    trusted: str | None,
    rec: Recorder,
) -> None:
    """spec 5: policy.txt is the newest `case.policy_set` at tree_size. A bundle whose
    policy.txt is not the policy its own log recorded contradicts itself, whichever policy
    the user trusts: check 5 fails. A user's policy that differs from the recorded one is
    a warning (the court may know other keys; it should know that it does)."""
    if logged is None:
        if bundle_text is not None:
            rec.fail(
                SIGNATURES,
                SignatureError,
                f"the log records no case.policy_set, so {POLICY} is not a policy the case "
                "recorded (spec 5)",
            )
        return
    if bundle_text is not None and bundle_text != logged:
        rec.fail(
            SIGNATURES,
            SignatureError,
            f"{POLICY} is not the newest case.policy_set at tree_size (seq {logged_seq}): the "
            "bundle's policy is not the one its log recorded",
        )
    if trusted is not None and trusted != logged:
        rec.warn(
            SIGNATURES,
            f"the policy you gave differs from the case's recorded policy (case.policy_set "
            f"seq {logged_seq})",
        )


def operator_only_warning(policy: Policy | None, cosigners: tuple[str, ...]) -> str | None:
    """spec 6 warnings: with `quorum none`, or no cosignature, the bundle rests on the log
    operator's key alone (the operator could sign any history it likes)."""
    if policy is None:
        return None  # no policy, nothing verified: check 5 already fails
    if policy.quorum is None:
        why = "the policy has quorum none"
    elif not cosigners:
        why = "no witness cosignature on the checkpoint verified"
    else:
        return None
    return f"this bundle rests on the log operator's key alone ({why})"


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
