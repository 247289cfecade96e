"""The root of evidence errors and the two raised while parsing names and digests.

They live apart from `evidence.errors` (which re-exports them) so that `keys` and
`hashing`, which raise them, sit below `errors`, which names their types: no
module imports one that imports it back.
"""

from __future__ import annotations


class EvidenceError(Exception):
    """Root of every error raised by the evidence package."""


class InvalidKeyError(EvidenceError, ValueError):
    """A case id, exhibit id, upload id or object key is not in canonical form."""


class InvalidDigestError(EvidenceError, ValueError):
    """A declared digest is not 64 lowercase or uppercase hex characters."""
