"""SHA-256 whose state can be saved at a block boundary and resumed in another process.

`hashlib` cannot export a hash state, so an S3 upload whose parts go straight into
a multipart upload (unreadable until completed) could not be continued by another
process (ADR 0025). OpenSSL's `SHA256_Init/Update/Final` work on a context struct
the caller owns; this module calls them through ctypes on the very libcrypto that
`hashlib` uses, so the hashing is the same code at the same speed. The state saved
is the FIPS 180-4 intermediate hash H(i) (eight 32-bit words, section 6.2.2) and the
message length: portable between machines, whatever their byte order.
"""

from __future__ import annotations

import _hashlib
import ctypes
import ctypes.util
import struct
from typing import Final

from evidence.errors import StoreConfigError

BLOCK: Final = 64
_STATE = struct.Struct(">8IQ")


class _Context(ctypes.Structure):
    """OpenSSL's SHA256_CTX (openssl/sha.h), unchanged since OpenSSL 0.9.8."""

    _fields_ = (
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),
        ("Nh", ctypes.c_uint32),
        ("data", ctypes.c_uint32 * 16),
        ("num", ctypes.c_uint),
        ("md_len", ctypes.c_uint),
    )


def _load() -> ctypes.CDLL:
    # dlsym on the _hashlib extension finds the symbols in the libcrypto it links.
    for path in (_hashlib.__file__, ctypes.util.find_library("crypto")):
        if not path:
            continue
        lib = ctypes.CDLL(path)
        try:
            init, update, final = lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final
        except AttributeError:
            continue
        init.argtypes = [ctypes.POINTER(_Context)]
        update.argtypes = [ctypes.POINTER(_Context), ctypes.c_void_p, ctypes.c_size_t]
        final.argtypes = [ctypes.c_char_p, ctypes.POINTER(_Context)]
        return lib
    raise StoreConfigError("OpenSSL's SHA256_Init is not available to resume upload hashes")


_lib: ctypes.CDLL | None = None


def _crypto() -> ctypes.CDLL:
    global _lib  # noqa: PLW0603 - loaded once, on first use
    if _lib is None:
        _lib = _load()
    return _lib


class ResumableSha256:
    """SHA-256 of a byte stream; `state()` at a block boundary, `resume()` elsewhere."""

    __slots__ = ("_ctx",)

    def __init__(self) -> None:
        self._ctx = _Context()
        _crypto().SHA256_Init(ctypes.byref(self._ctx))

    @property
    def size(self) -> int:
        bits: int = (self._ctx.Nh << 32) | self._ctx.Nl
        return bits // 8

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        if not view.nbytes:
            return
        if isinstance(data, bytes):
            pointer: object = ctypes.c_char_p(data)
        elif view.readonly or not view.c_contiguous:
            pointer = ctypes.c_char_p(view.tobytes())
        else:
            pointer = (ctypes.c_char * view.nbytes).from_buffer(view)
        _crypto().SHA256_Update(ctypes.byref(self._ctx), pointer, view.nbytes)

    def state(self) -> bytes:
        """H(i) and the length so far; only at a block boundary (nothing buffered)."""
        if self._ctx.num != 0:
            raise ValueError("a SHA-256 state is saved only at a 64-byte boundary")
        return _STATE.pack(*self._ctx.h, (self._ctx.Nh << 32) | self._ctx.Nl)

    @classmethod
    def resume(cls, state: bytes) -> ResumableSha256:
        """The hash as `state()` left it; ValueError for bytes that are no such state."""
        *words, bits = _STATE.unpack(state)
        if bits % (8 * BLOCK):
            raise ValueError("a saved SHA-256 state ends at a 64-byte boundary")
        hasher = cls()
        for i, word in enumerate(words):
            hasher._ctx.h[i] = word
        hasher._ctx.Nl = bits & 0xFFFFFFFF
        hasher._ctx.Nh = bits >> 32
        return hasher

    def copy(self) -> ResumableSha256:
        twin = ResumableSha256()
        ctypes.pointer(twin._ctx)[0] = self._ctx
        return twin

    def hexdigest(self) -> str:
        out = ctypes.create_string_buffer(32)
        _crypto().SHA256_Final(out, ctypes.byref(self.copy()._ctx))
        return out.raw.hex()
