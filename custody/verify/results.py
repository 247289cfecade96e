"""What a verification finds: the checks by id, their results, the report, and the recorder
that fills them in report mode or raises in raising mode (STYLE habit 3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final, Literal

from custody.bundle import Manifest
from custody.checkpoint import Checkpoint
from custody.errors import CustodyError

Status = Literal["pass", "fail", "skip"]
PolicySource = Literal["bundle", "user"]


class CheckId(StrEnum):
    """spec 6: the seven checks. Ids are stable: machines key on them."""

    FORMAT = "format"
    LOG = "log"
    TIME = "time"
    EXHIBIT_CHAINS = "exhibit-chains"
    SIGNATURES = "signatures"
    CONTENT = "content"
    REPLAY = "replay"


# spec 6: the seven checks, in order, with their titles.
CHECKS: Final[tuple[tuple[CheckId, str], ...]] = (
    (CheckId.FORMAT, "entries and manifest are canonical and well-formed"),
    (CheckId.LOG, "sequence, hash chain and Merkle root match the checkpoint"),
    (CheckId.TIME, "entry times never decrease along seq"),
    (CheckId.EXHIBIT_CHAINS, "each exhibit's custody chain is unbroken"),
    (CheckId.SIGNATURES, "checkpoint signed by the log key, cosignatures verify, quorum met"),
    (CheckId.CONTENT, "included exhibit content matches the recorded size and hashes"),
    (CheckId.REPLAY, "custody rules hold when the log is replayed"),
)
SELECTIVE_LOG_TITLE: Final = "inclusion proofs verify and disclosed exhibits' chains are unbroken"

# The checks of one tlog-proof file checked on its own (`verify_proof`).
PROOF_CHECKS: Final[tuple[tuple[CheckId, str], ...]] = (
    (CheckId.FORMAT, "the proof and the entry are well-formed"),
    (CheckId.LOG, "the inclusion proof leads to the checkpoint's root"),
    (CheckId.SIGNATURES, "checkpoint signed by the log key, cosignatures verify, quorum met"),
)

# A report keeps this many findings per check (plus a count), so a bundle with a million
# bad entries still yields a bounded report.
MAX_FINDINGS_PER_CHECK: Final = 50
MAX_WARNINGS: Final = MAX_FINDINGS_PER_CHECK * 4
STALE_COSIGNATURE: Final = timedelta(days=1)
# spec 6 warnings: the policy came from the bundle, not from the user.
POLICY_FROM_BUNDLE: Final = (
    "the policy was taken from the bundle (the exporter's claim), not from you: give a "
    "policy you obtained yourself (--policy)"
)


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    message: str
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"check": str(self.check), "message": self.message, "seq": self.seq}


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
            "id": str(self.id),
            "number": self.number,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "finding_count": self.finding_count,
            "findings": [finding.to_json() for finding in self.findings],
        }


def new_checks(
    table: tuple[tuple[CheckId, str], ...], *, selective: bool = False
) -> list[CheckResult]:
    """A fresh result (status pass) for each check of `table`, numbered from 1."""
    results = []
    for number, (check_id, title) in enumerate(table, start=1):
        shown = SELECTIVE_LOG_TITLE if check_id is CheckId.LOG and selective else title
        results.append(CheckResult(id=check_id, number=number, title=shown))
    return results


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
    # spec 6 warnings: why the bundle rests on the log operator's key alone, or None.
    operator_only: str | None = None

    @property
    def ok(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    def headline(self) -> str | None:
        """spec 6 warnings that a reader must see first: the bundle rests on the log
        operator's key alone, or its policy is the exporter's claim. None if neither."""
        parts = [] if self.operator_only is None else [self.operator_only]
        if self.policy_source == "bundle":
            parts.append(POLICY_FROM_BUNDLE)
        return "WARNING: " + "; ".join(parts) if parts else None

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
            "log_size": manifest.log_size if manifest else None,
            "operator_only": self.operator_only,
            "headline": self.headline(),
            "entries": self.entries,
            "cosigners": list(self.cosigners),
            "verified_at": self.verified_at,
            "checks": [check.to_json() for check in self.checks],
            "warnings": [warning.to_json() for warning in self.warnings],
        }


class Recorder:
    """Collects findings; in raising mode turns the first failure into its exception."""

    def __init__(self, checks: list[CheckResult], *, raising: bool) -> None:
        self._checks = {check.id: check for check in checks}
        self._raising = raising
        self.warnings: list[Finding] = []

    def fail(
        self,
        check_id: CheckId,
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

    def warn(self, check_id: CheckId, message: str, seq: int | None = None) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            text = message if seq is None else f"entry seq {seq}: {message}"
            self.warnings.append(Finding(check_id, text, seq))

    def skip(self, check_id: CheckId, why: str) -> None:
        check = self._checks[check_id]
        if check.status == "pass":
            check.status = "skip"
            check.detail = why

    def detail(self, check_id: CheckId, text: str) -> None:
        """Say more about how a check was done (shown with a passing or skipped check)."""
        self._checks[check_id].detail = text

    def passed(self, check_id: CheckId) -> bool:
        return self._checks[check_id].status == "pass"

    def mark(self) -> Mark:
        """The findings so far, to `rewind` to."""
        return Mark(
            {
                check_id: (c.status, list(c.findings), c.finding_count, c.detail)
                for check_id, c in self._checks.items()
            },
            len(self.warnings),
        )

    def rewind(self, mark: Mark) -> None:
        """Forget every finding and warning recorded since `mark`: what was read of a
        member that then proves corrupt must not count, or the verdict would depend on how
        much of it was read before the corruption showed (the read's chunk size)."""
        for check_id, (status, findings, count, detail) in mark.checks.items():
            check = self._checks[check_id]
            check.status, check.findings, check.finding_count, check.detail = (
                status,
                findings,
                count,
                detail,
            )
        del self.warnings[mark.warnings :]


@dataclass(frozen=True, slots=True)
class Mark:
    """The findings at one point of a verification (`Recorder.mark`)."""

    checks: dict[str, tuple[Status, list[Finding], int, str]]
    warnings: int
