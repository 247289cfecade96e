"""Which checkpoints the witness follows: the case logs of the log keys it was given.

custody-log-v1 §1, §4: a case log's origin is `<log name>/case/<case id>` (case id: a
lowercase canonical UUID) and its key is the server's one log key under that origin. The
witness is configured with the log key under the log NAME (`GET /api/log-key`) and
derives each case's verifier with `for_name(origin)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from custody.note import Note, NoteSignature, NoteVerifier
from witness.errors import UnknownOriginError, UntrustedCheckpointError

__all__ = ["LogRoster", "case_id_of"]

_CASE_SEPARATOR = "/case/"


def case_id_of(origin: str, log_name: str) -> str | None:
    """The case id if `origin` is `<log_name>/case/<lowercase canonical UUID>`, else None."""
    prefix = log_name + _CASE_SEPARATOR
    if not origin.startswith(prefix):
        return None
    case_id = origin[len(prefix) :]
    try:
        canonical = str(uuid.UUID(case_id))
    except ValueError:
        return None
    # uuid.UUID also takes braces, "urn:uuid:", upper case and no hyphens: only the
    # canonical form names a case (spec 1), so one case has exactly one origin.
    return case_id if canonical == case_id else None


class LogRoster:
    """The log keys a witness trusts, each under its log name (several keys may share a
    name, e.g. during a key rotation)."""

    def __init__(self, log_keys: Iterable[NoteVerifier]) -> None:
        # Duplicates dropped: one key given twice must not yield two identical lines.
        self._keys: tuple[NoteVerifier, ...] = tuple(dict.fromkeys(log_keys))
        if not self._keys:
            raise ValueError("a witness needs at least one log key")

    @classmethod
    def from_vkeys(cls, vkeys: Iterable[str]) -> LogRoster:
        """Raises custody.errors.KeyFormatError for a vkey that is not an Ed25519 note key."""
        return cls(NoteVerifier.from_vkey(vkey) for vkey in vkeys)

    @property
    def log_keys(self) -> tuple[NoteVerifier, ...]:
        return self._keys

    def verifiers_for(self, origin: str) -> tuple[NoteVerifier, ...]:
        """The case-log verifiers for `origin`; UnknownOriginError (tlog-witness 404) if it
        is not a case of a log this witness follows."""
        verifiers = tuple(
            key.for_name(origin) for key in self._keys if case_id_of(origin, key.name) is not None
        )
        if not verifiers:
            raise UnknownOriginError(f"origin {origin[:200]!r} is not a case of a known log")
        return verifiers

    def check_signatures(self, note: Note, origin: str) -> tuple[NoteSignature, ...]:
        """The note's verified log signature lines for `origin`.

        tlog-witness: verify "against the public key(s) it trusts for the checkpoint
        origin", ignoring unknown keys; 403 "if none of the signatures verify". A line
        naming a trusted key (name and key ID) that does not verify also fails: C2SP
        signed-note makes such a note invalid, and the editor's copy of tlog-witness says
        403 for it.

        NOTE: the Ed25519 note signature does not commit to the key name, but it does
        commit to the text, whose first line is the origin we derived the key name from;
        a signature of one case's checkpoint cannot pass for another case's.
        """
        return _verified_lines(note, self.verifiers_for(origin))


def _verified_lines(note: Note, verifiers: Sequence[NoteVerifier]) -> tuple[NoteSignature, ...]:
    verified: list[NoteSignature] = []
    for verifier in verifiers:
        sig = note.signature_for(verifier.name, verifier.key_id)
        if sig is None:
            continue
        if not verifier.verify(note.text, sig):
            raise UntrustedCheckpointError(
                f"signature of log key {verifier.name}+{verifier.key_id.hex()} does not verify"
            )
        verified.append(sig)
    if not verified:
        raise UntrustedCheckpointError("checkpoint carries no signature from a trusted log key")
    return tuple(verified)
