"""C2SP signed notes (c2sp.org/signed-note), Ed25519 note keys and verifier keys (vkeys).

A signed note is a UTF-8 text ending in a newline, a blank line, and one or more
signature lines `— <key name> base64(key ID || signature)`. The text means nothing
until a signature from a trusted key has verified (signed-note: "The text MUST be
ignored unless the note is signed by a trusted key").

Ed25519 signatures (type 0x01) are implemented here; timestamped witness cosignatures
(type 0x04) live in `custody.cosignature`, on the same key and note machinery.

NOTE: Ed25519 note signatures do not commit to the key name. The same server key signs
the checkpoints of every case under different names (custody-log-v1 §4), so a signature
line can be renamed, and its key ID recomputed, to pass as the key of another case.
Callers must therefore check the signed text itself (the checkpoint origin), as
`custody.policy.verify_cosigned_checkpoint` does; `open_note` alone cannot.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, NewType, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from custody.errors import KeyFormatError, NoteFormatError, SignatureError

__all__ = [
    "COSIGNATURE_KEY_TYPE",
    "ED25519_KEY_TYPE",
    "EM_DASH",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "Ed25519Signer",
    "Ed25519VerifierKey",
    "KeyId",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "decode_base64",
    "is_valid_key_name",
    "key_id",
    "open_note",
    "parse_ascii_decimal",
    "parse_signature_lines",
    "parse_vkey",
    "sign_note",
]

KeyId = NewType("KeyId", bytes)
"""A 4-byte signed-note key ID (big-endian uint32 on the wire, kept as bytes)."""

# C2SP signed-note "Signature types": the identifier bytes this library supports.
ED25519_KEY_TYPE = 0x01  # Ed25519 signatures over the note text
COSIGNATURE_KEY_TYPE = 0x04  # timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature)
_SUPPORTED_KEY_TYPES = frozenset({ED25519_KEY_TYPE, COSIGNATURE_KEY_TYPE})

EM_DASH = "\u2014"
_SIG_PREFIX = EM_DASH + " "  # C2SP signed-note: em dash (U+2014), space (U+0020)

# C2SP signed-note: verifiers SHOULD limit the number of signatures and MUST accept at
# least 16. 100 is the limit of golang.org/x/mod/sumdb/note; the byte cap bounds the rest
# (a checkpoint with 100 Ed25519 lines is ~15 KiB).
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20

_ED25519_PUBLIC_KEY_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
_KEY_ID_SIZE = 4

# Signed notes MUST NOT contain ASCII control characters other than newline.
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


# --- shared format primitives (also used by checkpoint, tlogproof and policy) ---


def decode_base64(text: str) -> bytes:
    """Decode standard, padded base64 (RFC 4648 §4), rejecting any non-canonical form.

    C2SP specs use standard base64; the tlog-checkpoint editor's copy adds that decoders
    MUST reject non-canonical encodings (RFC 4648 §3.5: non-zero pad bits), so two byte
    strings never decode to the same value. Raises ValueError.
    """
    if _BASE64.fullmatch(text) is None:
        raise ValueError("not padded standard base64")
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64 (non-zero padding bits)")
    return raw


def parse_ascii_decimal(text: str, *, max_value: int) -> int:
    """Parse an ASCII decimal with no leading zeros ("0" for zero); raises ValueError.

    Python's int() would also take "+1", " 1", "1_0" and non-ASCII digits; C2SP does not.
    """
    if _DECIMAL.fullmatch(text) is None:
        raise ValueError(f"not an ASCII decimal without leading zeros: {text!r}")
    if len(text) > len(str(max_value)):
        raise ValueError(f"decimal {text[:24]!r}... is out of range")
    value = int(text)
    if value > max_value:
        raise ValueError(f"decimal {value} is out of range (max {max_value})")
    return value


def is_valid_key_name(name: str) -> bool:
    """C2SP signed-note: key names MUST be non-empty, with no Unicode spaces and no '+'.

    Control characters are refused too: a name must fit on a signature line.
    """
    if not name or "+" in name or _FORBIDDEN_CONTROL.search(name) or "\n" in name:
        return False
    if any(ch.isspace() for ch in name):
        return False
    return _is_utf8_encodable(name)


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: not valid UTF-8
        return False
    return True


def _check_note_text(text: str) -> None:
    """C2SP signed-note: the text ends in a newline, is UTF-8, has no control characters."""
    if not text.endswith("\n"):
        raise NoteFormatError("note text must end with a newline")
    if _FORBIDDEN_CONTROL.search(text):
        raise NoteFormatError("note text contains an ASCII control character")
    if not _is_utf8_encodable(text):
        raise NoteFormatError("note text is not valid UTF-8")


def key_id(name: str, key_type: int, public_key: bytes) -> KeyId:
    """C2SP signed-note: key ID = SHA-256(key name || 0x0A || signature type || public key)[:4]."""
    if not 0 <= key_type <= 0xFF:
        raise KeyFormatError(f"signature type {key_type} is not a byte")
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key).digest()
    return KeyId(digest[:_KEY_ID_SIZE])


# --- signature lines and notes ---


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: `— <name> base64(key_id || signature)`.

    `signature` is everything after the key ID: 64 bytes for an Ed25519 note signature,
    8 + 64 for an Ed25519 cosignature/v1 (timestamp || signature).
    """

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise NoteFormatError(f"invalid key name in signature line: {self.name!r}")
        if len(self.key_id) != _KEY_ID_SIZE:
            raise NoteFormatError("a signature key ID is 4 bytes")
        # Go's sumdb/note requires at least one signature byte after the key ID.
        if len(self.signature) < 1:
            raise NoteFormatError("signature line carries no signature after the key ID")

    def line(self) -> str:
        """The signature line, newline included."""
        encoded = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_SIG_PREFIX}{self.name} {encoded}\n"

    @classmethod
    def from_line(cls, line: str) -> NoteSignature:
        """Parse one signature line, which must end with its newline."""
        if not line.endswith("\n") or "\n" in line[:-1]:
            raise NoteFormatError("a signature line is one line ending in a newline")
        return _parse_signature_line(line[:-1])


def _parse_signature_line(line: str) -> NoteSignature:
    # C2SP signed-note: em dash, space, key name, space, base64-encoded signature.
    if not line.startswith(_SIG_PREFIX):
        raise NoteFormatError("signature line must start with an em dash (U+2014) and a space")
    name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep:
        raise NoteFormatError("signature line has no space between key name and signature")
    if not is_valid_key_name(name):
        raise NoteFormatError(f"invalid key name in signature line: {name!r}")
    try:
        raw = decode_base64(encoded)
    except ValueError as exc:
        raise NoteFormatError(f"signature of {name!r} is not valid base64: {exc}") from exc
    # 4-byte key ID plus at least one signature byte.
    if len(raw) <= _KEY_ID_SIZE:
        raise NoteFormatError(f"signature of {name!r} is too short")
    return NoteSignature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:])


def parse_signature_lines(data: bytes) -> tuple[NoteSignature, ...]:
    """Parse a block of signature lines, e.g. a tlog-witness add-checkpoint response body.

    tlog-witness: "a sequence of one or more note signature lines, each starting with the
    `—` character (U+2014) and ending with a newline character (U+000A)".
    """
    if len(data) > MAX_NOTE_BYTES:
        raise NoteFormatError("signature block is too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteFormatError("signature block is not valid UTF-8") from exc
    if _FORBIDDEN_CONTROL.search(text):
        raise NoteFormatError("signature block contains an ASCII control character")
    if not text:
        raise NoteFormatError("signature block has no signature lines")
    if not text.endswith("\n"):
        raise NoteFormatError("signature block must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteFormatError(f"more than {MAX_SIGNATURES} signature lines")
    return tuple(_parse_signature_line(line) for line in lines)


@dataclass(frozen=True)
class Note:
    """A signed note: the text (ending in "\\n") and its signature lines, in order.

    A Note that exists is well-formed: valid text, 1..MAX_SIGNATURES signatures and no
    two lines with the same key name and key ID. Its signatures are NOT verified; use
    `open_note` or `custody.policy.verify_cosigned_checkpoint`.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_note_text(self.text)
        if not self.signatures:
            # C2SP signed-note: "followed by one or more signature lines".
            raise NoteFormatError("a signed note has at least one signature line")
        if len(self.signatures) > MAX_SIGNATURES:
            raise NoteFormatError(f"more than {MAX_SIGNATURES} signature lines")
        # NOTE: several lines with the same key name and key ID are accepted here, as Go's
        # sumdb/note does: custody-log-v1 6.5 says lines from unknown keys are ignored,
        # not failed. For a known key, verifiers check every one of its lines
        # (`signatures_for`), so a duplicate cannot smuggle in a bad signature.

    @classmethod
    def parse(cls, data: bytes) -> Note:
        """Parse a signed note strictly per C2SP signed-note; raises NoteFormatError."""
        if len(data) > MAX_NOTE_BYTES:
            raise NoteFormatError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            text = data.decode("utf-8")  # strict: no surrogates, no overlong forms
        except UnicodeDecodeError as exc:
            raise NoteFormatError("note is not valid UTF-8") from exc
        if _FORBIDDEN_CONTROL.search(text):
            raise NoteFormatError("note contains an ASCII control character")
        # C2SP signed-note: "the text is separated from the signatures by the last empty
        # line in the note"; the text keeps its final newline, not the blank line.
        split = text.rfind("\n\n")
        if split < 0:
            raise NoteFormatError("note has no blank line before its signatures")
        body, block = text[: split + 1], text[split + 2 :]
        if not block:
            raise NoteFormatError("note has no signature lines")
        if not block.endswith("\n"):
            raise NoteFormatError("note must end with a newline after its last signature")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise NoteFormatError(f"more than {MAX_SIGNATURES} signature lines")
        return cls(body, tuple(_parse_signature_line(line) for line in lines))

    def to_bytes(self) -> bytes:
        lines = "".join(sig.line() for sig in self.signatures)
        return (self.text + "\n" + lines).encode("utf-8")

    def with_signatures(self, extra: Sequence[NoteSignature]) -> Note:
        """This note with `extra` appended; an extra line replaces an existing one of the
        same key name and key ID (as golang.org/x/mod/sumdb/note.Sign does)."""
        replaced = {(sig.name, sig.key_id) for sig in extra}
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) not in replaced)
        return Note(self.text, kept + tuple(extra))

    def signature_for(self, name: str, key_id: bytes) -> NoteSignature | None:
        """The first signature line of the key (name, key ID), if the note has one."""
        for sig in self.signatures:
            if sig.name == name and sig.key_id == key_id:
                return sig
        return None

    def signatures_for(self, name: str, key_id: bytes) -> tuple[NoteSignature, ...]:
        """Every signature line of the key (name, key ID)."""
        return tuple(s for s in self.signatures if s.name == name and s.key_id == key_id)


# --- Ed25519 keys ---


def parse_vkey(vkey: str) -> tuple[str, KeyId, int, bytes]:
    """Parse a verifier key `<name>+<8 hex key ID>+<base64(type || public key)>`.

    Returns (name, key ID, signature type, public key). Only the types this library can
    verify (0x01 Ed25519, 0x04 Ed25519 cosignature/v1) are accepted, and the key ID must
    be the one derived from the name, type and key. Raises KeyFormatError.
    """
    # The base64 part may contain '+'; the name may not, so the first two '+' split.
    name, sep1, rest = vkey.partition("+")
    hex_id, sep2, encoded = rest.partition("+")
    if not sep1 or not sep2:
        raise KeyFormatError("vkey must have the form <name>+<key id>+<key>")
    if not is_valid_key_name(name):
        raise KeyFormatError(f"invalid key name in vkey: {name!r}")
    # golang.org/x/mod/sumdb/note accepts either case of hex; we write lowercase.
    if _HEX_KEY_ID.fullmatch(hex_id) is None:
        raise KeyFormatError("vkey key ID must be 8 hex digits")
    try:
        raw = decode_base64(encoded)
    except ValueError as exc:
        raise KeyFormatError(f"vkey key is not valid base64: {exc}") from exc
    if len(raw) < 2:
        raise KeyFormatError("vkey key is too short")
    key_type, public_key = raw[0], raw[1:]
    if key_type not in _SUPPORTED_KEY_TYPES:
        raise KeyFormatError(f"unsupported vkey signature type 0x{key_type:02x}")
    if len(public_key) != _ED25519_PUBLIC_KEY_SIZE:
        raise KeyFormatError("an Ed25519 public key is 32 bytes")
    expected = key_id(name, key_type, public_key)
    if bytes.fromhex(hex_id) != expected:
        raise KeyFormatError(
            f"vkey key ID {hex_id} does not match its name and key ({expected.hex()})"
        )
    return name, expected, key_type, public_key


def _format_vkey(name: str, key_type: int, public_key: bytes) -> str:
    encoded = base64.b64encode(bytes([key_type]) + public_key).decode("ascii")
    return f"{name}+{key_id(name, key_type, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class Ed25519VerifierKey:
    """A named Ed25519 public key of one signature type (base of the two verifiers)."""

    KEY_TYPE: ClassVar[int]

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise KeyFormatError(f"invalid key name: {self.name!r}")
        if len(self.public_key) != _ED25519_PUBLIC_KEY_SIZE:
            raise KeyFormatError("an Ed25519 public key is 32 bytes")

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        name, _, key_type, public_key = parse_vkey(vkey)
        if key_type != cls.KEY_TYPE:
            raise KeyFormatError(
                f"{cls.__name__} needs a vkey of type 0x{cls.KEY_TYPE:02x}, not 0x{key_type:02x}"
            )
        return cls(name, public_key)

    @property
    def key_id(self) -> KeyId:
        return key_id(self.name, self.KEY_TYPE, self.public_key)

    def vkey(self) -> str:
        return _format_vkey(self.name, self.KEY_TYPE, self.public_key)

    def for_name(self, name: str) -> Self:
        """The same public key under another key name (custody-log-v1 §4: a case's log
        vkey is the server key under the case origin)."""
        return type(self)(name, self.public_key)

    def _verify_ed25519(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def _matches(self, sig: NoteSignature) -> bool:
        # C2SP signed-note: the (key name, key ID) tuple identifies the key.
        return sig.name == self.name and sig.key_id == self.key_id


class NoteVerifier(Ed25519VerifierKey):
    """Verifies Ed25519 note signatures (type 0x01) of one named key."""

    KEY_TYPE: ClassVar[int] = ED25519_KEY_TYPE

    def verify(self, text: str, sig: NoteSignature) -> bool:
        """Whether `sig` is this key's valid Ed25519 signature of `text` (the note text)."""
        if not self._matches(sig) or not _is_utf8_encodable(text):
            return False
        return self._verify_ed25519(text.encode("utf-8"), sig.signature)


class Ed25519Signer:
    """A named Ed25519 private key of one signature type (base of the two signers)."""

    KEY_TYPE: ClassVar[int]
    __slots__ = ("_key_id", "_name", "_private_key", "_public_key")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_key_name(name):
            raise KeyFormatError(f"invalid key name: {name!r}")
        self._name = name
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes_raw()
        self._key_id = key_id(name, self.KEY_TYPE, self._public_key)

    def __repr__(self) -> str:  # never the private key
        return f"{type(self).__name__}(name={self._name!r}, key_id={self._key_id.hex()})"

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Self:
        """A signer from a 32-byte RFC 8032 seed (deterministic test keys, stored keys)."""
        if len(seed) != 32:
            raise KeyFormatError("an Ed25519 seed is 32 bytes")
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_skey(cls, skey: str) -> Self:
        """Parse `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>`, the signer-key
        encoding of golang.org/x/mod/sumdb/note."""
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise KeyFormatError("skey must have the form PRIVATE+KEY+<name>+<key id>+<key>")
        _, _, name, hex_id, encoded = parts
        if _HEX_KEY_ID.fullmatch(hex_id) is None:
            raise KeyFormatError("skey key ID must be 8 hex digits")
        try:
            raw = decode_base64(encoded)
        except ValueError as exc:
            raise KeyFormatError(f"skey key is not valid base64: {exc}") from exc
        if len(raw) != 33 or raw[0] != cls.KEY_TYPE:
            raise KeyFormatError(f"{cls.__name__} needs an skey of type 0x{cls.KEY_TYPE:02x}")
        signer = cls.from_seed(name, raw[1:])
        if bytes.fromhex(hex_id) != signer.key_id:
            raise KeyFormatError("skey key ID does not match its name and key")
        return signer

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> KeyId:
        return self._key_id

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def vkey(self) -> str:
        return _format_vkey(self._name, self.KEY_TYPE, self._public_key)

    def skey(self) -> str:
        """The secret signer key (golang.org/x/mod/sumdb/note encoding). Keep it secret."""
        encoded = base64.b64encode(bytes([self.KEY_TYPE]) + self.private_seed()).decode("ascii")
        return f"PRIVATE+KEY+{self._name}+{self._key_id.hex()}+{encoded}"

    def private_seed(self) -> bytes:
        """The 32-byte RFC 8032 seed. Keep it secret."""
        return self._private_key.private_bytes_raw()

    def _sign_ed25519(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


class NoteSigner(Ed25519Signer):
    """Signs note texts with an Ed25519 key (signature type 0x01)."""

    KEY_TYPE: ClassVar[int] = ED25519_KEY_TYPE
    __slots__ = ()

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.public_key)

    def sign(self, text: str) -> NoteSignature:
        """C2SP signed-note "Ed25519 signatures": RFC 8032 over the note text."""
        _check_note_text(text)
        return NoteSignature(self.name, self.key_id, self._sign_ed25519(text.encode("utf-8")))


def sign_note(text: str, signers: Sequence[NoteSigner]) -> Note:
    """A note of `text` signed by each signer, in order."""
    return Note(text, tuple(signer.sign(text) for signer in signers))


def open_note(note: Note, verifier: NoteVerifier) -> None:
    """Raise SignatureError unless the note carries a valid signature of `verifier`.

    C2SP signed-note: signatures from unknown keys are ignored, even if they share a
    name or an ID (but not both) with the known key; a known key's signature MUST verify.
    """
    sigs = note.signatures_for(verifier.name, verifier.key_id)
    if not sigs:
        raise SignatureError(
            f"note has no signature from key {verifier.name}+{verifier.key_id.hex()}"
        )
    if not all(verifier.verify(note.text, sig) for sig in sigs):
        raise SignatureError(
            f"signature of key {verifier.name}+{verifier.key_id.hex()} does not verify"
        )
