"""One error root for the custody library, subclasses named for what went wrong.

No HTTP status codes here: the server maps these to responses in one place.
"""

from __future__ import annotations


class CustodyError(Exception):
    """Root of every error raised by the custody library."""


class FormatError(CustodyError):
    """Bytes that do not parse as the format they claim to be (entry, note, proof, policy...)."""


class EntryFormatError(FormatError):
    """A custody entry is malformed: a missing field, a wrong type, non-canonical bytes."""


class NoteFormatError(FormatError):
    """A C2SP signed note, checkpoint or cosignature line is malformed."""


class PolicyFormatError(FormatError):
    """A C2SP tlog-policy file is malformed."""


class ProofFormatError(FormatError):
    """A C2SP tlog-proof file is malformed."""


class KeyFormatError(FormatError):
    """A verifier key (vkey) or private key is malformed."""


class BundleFormatError(FormatError):
    """A court bundle cannot be read at all: not a ZIP, unsafe member names, a zip bomb..."""


class CommitmentError(FormatError):
    """A note salt that is not 32 bytes, or a commitment that is not 64 lowercase hex."""


class VerificationError(CustodyError):
    """Well-formed data that fails a check: the evidence of tampering or breakage."""


class ChainBrokenError(VerificationError):
    """`seq`, `prev` or `exhibit_prev` do not link entries into an unbroken chain."""


class TimeReversedError(VerificationError):
    """An entry's `time` is earlier than the entry before it."""


class RootMismatchError(VerificationError):
    """The Merkle root over the entries differs from the checkpoint's root."""


class InclusionProofError(VerificationError):
    """An RFC 9162 inclusion proof does not lead to the expected root."""


class ConsistencyProofError(VerificationError):
    """An RFC 9162 consistency proof does not link the two tree heads."""


class SignatureError(VerificationError):
    """A note, checkpoint or cosignature signature does not verify with the trusted key."""


class QuorumNotMetError(VerificationError):
    """Fewer witnesses cosigned the checkpoint than the policy's quorum demands."""


class ContentMismatchError(VerificationError):
    """Exhibit content differs from the size or hashes recorded at ingest."""


class ReplayError(VerificationError):
    """Replaying the log finds an event the custody rules forbid (access without share...)."""
