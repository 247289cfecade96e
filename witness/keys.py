"""The witness's own key: an Ed25519 cosignature/v1 key (signature type 0x04).

`DIR/witness.key` holds the key in the signer-key encoding of golang.org/x/mod/sumdb/note,
`PRIVATE+KEY+<name>+<key id>+<base64(0x04 || 32-byte seed)>`, one line, mode 0600: the
name travels with the key and the key ID is checked on load. `DIR/witness.vkey` holds the
public vkey `<name>+<key id>+<base64(0x04 || public key)>` for the case server's policy.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from custody.cosignature import CosignatureSigner
from custody.errors import KeyFormatError
from witness.errors import WitnessKeyError

__all__ = ["KEY_FILE", "VKEY_FILE", "create_witness_key", "load_witness_key"]

KEY_FILE = "witness.key"
VKEY_FILE = "witness.vkey"
_MAX_KEY_FILE = 4096


def create_witness_key(out_dir: Path, name: str) -> CosignatureSigner:
    """Generate a witness key named `name`; write DIR/witness.key (0600) and
    DIR/witness.vkey. Never overwrites a key: a lost witness key cannot be replaced
    without every policy that names it."""
    try:
        signer = CosignatureSigner.generate(name)
    except KeyFormatError as exc:
        raise WitnessKeyError(f"invalid witness name {name!r}: {exc}") from exc
    key_path = out_dir / KEY_FILE
    try:
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WitnessKeyError(f"{key_path} exists; refusing to overwrite a witness key") from None
    except OSError as exc:
        raise WitnessKeyError(f"cannot create {key_path}: {exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(signer.skey() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    vkey_path = out_dir / VKEY_FILE
    try:
        vkey_path.write_text(signer.vkey() + "\n", encoding="utf-8")
    except OSError as exc:
        raise WitnessKeyError(f"cannot write {vkey_path}: {exc}") from exc
    return signer


def load_witness_key(path: Path) -> CosignatureSigner:
    """Load DIR/witness.key; a file readable by group or others is refused."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise WitnessKeyError(f"witness key file {path} has mode {mode:04o}; make it 0600")
        with path.open("rb") as handle:
            raw = handle.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        raise WitnessKeyError(f"cannot read witness key file {path}: {exc}") from exc
    try:
        if len(raw) > _MAX_KEY_FILE:
            raise ValueError("file is too large")
        return CosignatureSigner.from_skey(raw.decode("utf-8").strip())
    except (UnicodeDecodeError, ValueError, KeyFormatError) as exc:
        raise WitnessKeyError(f"witness key file {path} is not a witness key: {exc}") from exc
