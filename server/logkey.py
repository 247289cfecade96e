"""The log's Ed25519 signing key: from JITC_LOG_KEY, or a file created on first start.

The file holds the base64 of the 32-byte seed, mode 0600; a file readable by others is
refused rather than used. One key signs every case's checkpoints (spec 4).
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from server.config import Settings
from server.errors import LogKeyError

SEED_SIZE = 32


def _decode_seed(text: str, where: str) -> bytes:
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise LogKeyError(f"{where} is not base64") from None
    if len(seed) != SEED_SIZE:
        raise LogKeyError(f"{where} must be the base64 of a {SEED_SIZE}-byte Ed25519 seed")
    return seed


def encode_seed(seed: bytes) -> str:
    return base64.b64encode(seed).decode("ascii")


def load_or_create_seed(settings: Settings) -> bytes:
    """The log key's seed: JITC_LOG_KEY if set, else the key file, created if missing."""
    if settings.log_key is not None:
        return _decode_seed(settings.log_key, "JITC_LOG_KEY")
    path = settings.log_key_path
    try:
        return _read_seed_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = os.urandom(SEED_SIZE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first: use theirs
        return _read_seed_file(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(encode_seed(seed) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return seed


def _read_seed_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise LogKeyError(f"log key file {path} has mode {mode:04o}; make it 0600")
    text = path.read_text(encoding="ascii")
    if not text.strip():
        raise LogKeyError(f"log key file {path} is empty")
    return _decode_seed(text, f"log key file {path}")
