"""The offline verifier of court bundles and tlog-proofs (spec 6).

Two modes (STYLE habit 3): `verify_bundle(...)` runs every check and returns a report that
lists each with its result, for a court; `verify_bundle(..., raise_on_failure=True)` raises
the specific VerificationError of the first failure, for library callers. `verify_proof`
checks one tlog-proof file on its own against a trusted policy.

Nothing here reads a clock, the network or randomness: the caller passes `now` if it wants
it on the report. The bundle is streamed; memory grows with the number of entries only by
per-exhibit state.

Inside: `results` (check ids, findings, the report), `bundle_check` (the steps in order),
`walk` with `full` and `selective` (one pass over the entries), `signatures` (check 5),
`content` (check 6), `proofs` (proof files); the custody rules of check 7 are
`custody.replay`'s.
"""

from custody.errors import CustodyError
from custody.verify.bundle_check import verify_bundle
from custody.verify.proofs import verify_proof
from custody.verify.results import (
    CHECKS,
    MAX_FINDINGS_PER_CHECK,
    POLICY_FROM_BUNDLE,
    PROOF_CHECKS,
    SELECTIVE_LOG_TITLE,
    STALE_COSIGNATURE,
    CheckId,
    CheckResult,
    Finding,
    PolicySource,
    Status,
    VerificationReport,
)

__all__ = [
    "CHECKS",
    "MAX_FINDINGS_PER_CHECK",
    "POLICY_FROM_BUNDLE",
    "PROOF_CHECKS",
    "SELECTIVE_LOG_TITLE",
    "STALE_COSIGNATURE",
    "CheckId",
    "CheckResult",
    "CustodyError",
    "Finding",
    "PolicySource",
    "Status",
    "VerificationReport",
    "verify_bundle",
    "verify_proof",
]
