"""Court bundles (spec 5): one ZIP file, written as a stream and read defensively.

The reader never extracts anything to disk: it streams members out of the archive with
hard caps, so a hostile bundle (zip bomb, path traversal, lying sizes) costs bounded memory
and ends in a BundleFormatError that says what is wrong.
"""

from __future__ import annotations

import itertools
import queue
import re
import stat
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from custody.canonical import CanonicalFormError, canonical_bytes, parse_canonical, parse_json
from custody.errors import BundleFormatError

BUNDLE_FORMAT: Final = "jitc-bundle/1"
MANIFEST: Final = "jitc-bundle.json"
ENTRIES: Final = "entries.jsonl"
CHECKPOINT: Final = "checkpoint"
POLICY: Final = "policy.txt"
REPORT: Final = "report.html"
PROOF_DIR: Final = "proofs/"
CONTENT_DIR: Final = "exhibits/"

# Caps on what a reader accepts. Content files are only ever streamed, so they are bounded by
# the declared size alone; metadata members are read into memory and capped hard.
MAX_MANIFEST_BYTES: Final = 64 * 1024 * 1024
MAX_SMALL_MEMBER_BYTES: Final = 1024 * 1024  # checkpoint, policy, one proof
MAX_ENTRY_LINE_BYTES: Final = 1024 * 1024
MAX_MEMBERS: Final = 5_000_000
# A deflated member that claims to expand more than this ratio (and is not tiny) is refused:
# the writer stores evidence uncompressed, so only a crafted archive trips this.
MAX_COMPRESSION_RATIO: Final = 200
RATIO_FLOOR_BYTES: Final = 16 * 1024 * 1024
CHUNK: Final = 1024 * 1024

_PROOF_NAME = re.compile(r"proofs/(0|[1-9][0-9]*)\.tlog-proof")
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ +=,@()-]*")
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:")
_LOCAL_HEADER_SIZE: Final = 30  # APPNOTE 4.3.7, before the name and extra field


@dataclass(frozen=True, slots=True)
class ManifestExhibit:
    id: str
    label: str
    filename: str
    size: int | None
    sha256: str | None
    blake3: str | None
    content: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "filename": self.filename,
            "size": self.size,
            "sha256": self.sha256,
            "blake3": self.blake3,
            "content": self.content,
        }


@dataclass(frozen=True, slots=True)
class Manifest:
    """`jitc-bundle.json` (spec 5)."""

    case: str
    origin: str
    created: str
    disclosure: str
    tree_size: int
    exhibits: tuple[ManifestExhibit, ...]
    recipient: str
    # spec 5: the log's size when the bundle was made (>= tree_size; required). A bundle
    # stops at the newest checkpoint that met the case policy, which may be older.
    log_size: int
    format: str = BUNDLE_FORMAT

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "case": self.case,
            "origin": self.origin,
            "created": self.created,
            "disclosure": self.disclosure,
            "tree_size": self.tree_size,
            "log_size": self.log_size,
            "exhibits": [exhibit.to_json() for exhibit in self.exhibits],
            "recipient": self.recipient,
        }

    def canonical_bytes(self) -> bytes:
        return canonical_bytes(self.to_json())

    @classmethod
    def parse(cls, data: bytes) -> tuple[Manifest, bool]:
        """Parse the manifest; return it and whether its bytes were canonical.

        Raise BundleFormatError if it is not a usable manifest at all."""
        canonical = True
        try:
            obj = parse_canonical(data)
        except CanonicalFormError:
            canonical = False
            try:
                obj = parse_json(data)
            except CanonicalFormError as exc:
                raise BundleFormatError(f"{MANIFEST}: {exc}") from None
        return _manifest_from_json(obj), canonical


def _manifest_field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BundleFormatError(f"{MANIFEST}: field {name!r} is missing or has the wrong type")
    return value


def _optional(obj: dict[str, Any], name: str, kind: type) -> Any:
    value = obj.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise BundleFormatError(f"{MANIFEST}: exhibit field {name!r} has the wrong type")
    return value


def _manifest_from_json(obj: Any) -> Manifest:
    if not isinstance(obj, dict):
        raise BundleFormatError(f"{MANIFEST} is not a JSON object")
    if obj.get("format") != BUNDLE_FORMAT:
        raise BundleFormatError(
            f"{MANIFEST}: format is {obj.get('format')!r}, this verifier reads {BUNDLE_FORMAT!r}"
        )
    disclosure = _manifest_field(obj, "disclosure", str)
    if disclosure not in ("full", "selective"):
        raise BundleFormatError(f"{MANIFEST}: disclosure must be 'full' or 'selective'")
    tree_size = _manifest_field(obj, "tree_size", int)
    if tree_size < 0:
        raise BundleFormatError(f"{MANIFEST}: tree_size must not be negative")
    # Required (spec 5): without it a reader cannot tell a bundle that stops early. A value
    # below tree_size is read, and failed by check 1.
    log_size = _manifest_field(obj, "log_size", int)
    if log_size < 0:
        raise BundleFormatError(f"{MANIFEST}: log_size must not be negative")
    raw_exhibits = _manifest_field(obj, "exhibits", list)
    exhibits = []
    seen: set[str] = set()
    for raw in raw_exhibits:
        if not isinstance(raw, dict):
            raise BundleFormatError(f"{MANIFEST}: every exhibit must be an object")
        exhibit = ManifestExhibit(
            id=_manifest_field(raw, "id", str),
            label=_manifest_field(raw, "label", str),
            filename=_manifest_field(raw, "filename", str),
            size=_optional(raw, "size", int),
            sha256=_optional(raw, "sha256", str),
            blake3=_optional(raw, "blake3", str),
            content=_optional(raw, "content", str),
        )
        if exhibit.id in seen:
            raise BundleFormatError(f"{MANIFEST}: exhibit {exhibit.id!r} is listed twice")
        seen.add(exhibit.id)
        exhibits.append(exhibit)
    return Manifest(
        case=_manifest_field(obj, "case", str),
        origin=_manifest_field(obj, "origin", str),
        created=_manifest_field(obj, "created", str),
        disclosure=disclosure,
        tree_size=tree_size,
        exhibits=tuple(exhibits),
        recipient=_manifest_field(obj, "recipient", str),
        log_size=log_size,
    )


def safe_content_name(exhibit_id: str, filename: str) -> str:
    """The path of an exhibit's content inside a bundle: `exhibits/<id>/<filename>` (spec 5).

    The original filename is kept verbatim in the manifest; the path uses a sanitised copy
    (NFC, no separators, no control or bidi characters, at most 120 characters) so that no
    unzip tool can be steered outside its folder or show a misleading name.
    """
    cleaned = []
    for char in unicodedata.normalize("NFC", filename):
        category = unicodedata.category(char)
        if char in '/\\:*?"<>|' or category.startswith("C") or category in ("Zl", "Zp"):
            cleaned.append("_")
        else:
            cleaned.append(char)
    # Trailing dots and spaces are stripped after the cut too: Windows drops them, so
    # "a." and "a" would be one file there.
    name = "".join(cleaned).strip(" .")[:120].rstrip(" .") or "content"
    if _is_windows_device(name):
        name = "_" + name  # CON, NUL.txt, com1.log... open a device on Windows
    return f"{CONTENT_DIR}{_safe_id(exhibit_id)}/{name}"


# Win32 file names that name a device whatever their extension or case ("Naming Files,
# Paths, and Namespaces", Microsoft Learn), including the superscript-digit ports.
_WINDOWS_DEVICES: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3"}
)


def _is_windows_device(segment: str) -> bool:
    # The part before the first dot, trailing spaces dropped, decides: "con .txt" too.
    return segment.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICES


def _safe_id(exhibit_id: str) -> str:
    if _SAFE_SEGMENT.fullmatch(exhibit_id) is None or ".." in exhibit_id:
        raise BundleFormatError(f"exhibit id {exhibit_id!r} cannot be used in a bundle path")
    return exhibit_id


def check_member_name(name: str) -> None:
    """Refuse names that could escape a folder on extraction (zip-slip) or mislead."""
    if not name or len(name) > 1024:
        raise BundleFormatError("a member name is empty or too long")
    if name.startswith("/") or "\\" in name or _WINDOWS_DRIVE.match(name):
        raise BundleFormatError(f"member name {name!r} is absolute or uses backslashes")
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            raise BundleFormatError(f"member name {name!r} has an empty, '.' or '..' segment")
        # Windows drops a trailing dot or space (two names, one file) and opens a device
        # for a reserved name: either would extract somewhere other than it says.
        if segment.endswith((".", " ")):
            raise BundleFormatError(f"member name {name!r} has a segment ending in '.' or ' '")
        if _is_windows_device(segment):
            raise BundleFormatError(f"member name {name!r} names a Windows device")
    for char in name:
        if unicodedata.category(char).startswith("C"):
            raise BundleFormatError(f"member name {name!r} contains control characters")


class BundleReader:
    """Read a court bundle defensively. Use as a context manager."""

    def __init__(self, source: str | Path | IO[bytes]) -> None:
        try:
            self._zip = zipfile.ZipFile(source, "r")
        except zipfile.BadZipFile as exc:
            raise BundleFormatError(f"not a ZIP file: {exc}") from None
        except (OSError, EOFError, ValueError) as exc:
            raise BundleFormatError(f"cannot read the bundle: {exc}") from None
        try:
            self._infos = self._index()
        except BundleFormatError:
            self._zip.close()
            raise

    def _index(self) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise BundleFormatError(f"the bundle has more than {MAX_MEMBERS} members")
        by_name: dict[str, zipfile.ZipInfo] = {}
        spans: list[tuple[int, int, str]] = []
        declared = compressed = 0
        for info in infos:
            # The name as stored: zipfile cuts `filename` at a NUL byte, so "checkpoint\0x"
            # would pass as "checkpoint" here and read as something else in other tools.
            raw_name = info.orig_filename
            if raw_name.endswith("/"):  # a directory entry: checked, never read
                check_member_name(raw_name[:-1])
                continue
            check_member_name(raw_name)
            name = info.filename
            if name in by_name:
                raise BundleFormatError(f"member {name!r} appears twice")
            mode = info.external_attr >> 16
            if mode and stat.S_ISLNK(mode):
                raise BundleFormatError(f"member {name!r} is a symbolic link")
            if info.flag_bits & 0x1:
                raise BundleFormatError(f"member {name!r} is encrypted")
            if (
                info.compress_type != zipfile.ZIP_STORED
                and info.file_size > RATIO_FLOOR_BYTES
                and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
            ):
                raise BundleFormatError(
                    f"member {name!r} claims {info.file_size} bytes from "
                    f"{info.compress_size} compressed: refused as a zip bomb"
                )
            if info.compress_type != zipfile.ZIP_STORED:
                declared += info.file_size
                compressed += info.compress_size
            by_name[name] = info
            # A member occupies its local header (30 bytes and the name, at least) and its
            # compressed data; counting the data alone would miss a member nested there.
            encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
            try:
                name_size = len(raw_name.encode(encoding))
            except UnicodeEncodeError:
                name_size = len(raw_name.encode("utf-8"))
            end = info.header_offset + _LOCAL_HEADER_SIZE + name_size + info.compress_size
            spans.append((info.header_offset, end, name))
        # Many members each under the floor add up to one bomb: the ratio holds in total too.
        if declared > RATIO_FLOOR_BYTES and declared > MAX_COMPRESSION_RATIO * max(compressed, 1):
            raise BundleFormatError(
                f"compressed members claim {declared} bytes from {compressed} compressed in "
                "total: refused as a zip bomb"
            )
        # Overlapping members (one compressed stream referenced many times) are the classic
        # non-recursive zip bomb; a well-formed archive never overlaps.
        spans.sort()
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start < end:
                raise BundleFormatError(f"members {first!r} and {second!r} overlap")
        return by_name

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._infos)

    def has(self, name: str) -> bool:
        return name in self._infos

    def size(self, name: str) -> int:
        return self._infos[name].file_size

    def stream(self, name: str, *, limit: int | None = None) -> Generator[bytes]:
        """Yield a member's bytes in chunks, refusing more than it declared (or `limit`)."""
        info = self._infos.get(name)
        if info is None:
            raise BundleFormatError(f"member {name!r} is missing")
        cap = info.file_size if limit is None else min(info.file_size, limit)
        if info.file_size > cap:
            raise BundleFormatError(f"member {name!r} is larger than {cap} bytes")
        seen = 0
        try:
            with self._zip.open(info) as member:
                while True:
                    chunk = member.read(CHUNK)
                    if not chunk:
                        break
                    seen += len(chunk)
                    if seen > cap:
                        raise BundleFormatError(f"member {name!r} is larger than it declares")
                    yield chunk
        except (zipfile.BadZipFile, zlib.error) as exc:
            # zlib.error: a deflate stream that is not one (a bad block, a bad distance).
            raise BundleFormatError(f"member {name!r} is corrupt: {exc}") from None
        except (OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise BundleFormatError(f"member {name!r} cannot be read: {exc}") from None
        except RuntimeError as exc:  # zipfile raises it for encrypted members
            raise BundleFormatError(f"member {name!r} cannot be read: {exc}") from None
        if seen != info.file_size:
            raise BundleFormatError(f"member {name!r} is shorter than it declares")

    def read(self, name: str, *, limit: int = MAX_SMALL_MEMBER_BYTES) -> bytes:
        return b"".join(self.stream(name, limit=limit))

    def lines(self, name: str, *, max_line: int = MAX_ENTRY_LINE_BYTES) -> Generator[bytes]:
        """Yield the member's lines, each without its final newline. A line longer than
        `max_line`, or a last line without its newline (spec 5), raises BundleFormatError."""
        with closing(self.line_blocks(name, max_line=max_line)) as blocks:
            for block in blocks:
                yield from block

    def line_blocks(
        self,
        name: str,
        *,
        max_line: int = MAX_ENTRY_LINE_BYTES,
        copy: Callable[[bytes], object] | None = None,
    ) -> Generator[list[bytes]]:
        """`lines`, a chunk's worth at a time: a list per chunk read (the verifier's hot
        loop walks a list faster than it resumes a generator per line).

        `copy`, if given, is called with each chunk of the member as it is read, in order
        and before its lines are yielded, on the read-ahead thread (the verifier hands the
        chunks to a second process this way, custody.verify.parallel)."""
        pending = b""
        number = 0
        chunks = self.stream(name)
        for chunk in read_ahead(chunks if copy is None else _copied(chunks, copy)):
            pending += chunk
            parts = pending.split(b"\n")
            pending = parts.pop()
            number += len(parts)
            # Complete lines are capped too, not only the unfinished tail; the lines before
            # an over-long one are still yielded, as one at a time would.
            if parts and max(map(len, parts)) > max_line:
                bad = next(i for i, part in enumerate(parts) if len(part) > max_line)
                if bad:
                    yield parts[:bad]
                raise BundleFormatError(
                    f"{name}: line {number - len(parts) + bad + 1} is longer than {max_line} bytes"
                )
            if parts:
                yield parts
            if len(pending) > max_line:
                raise BundleFormatError(
                    f"{name}: line {number + 1} is longer than {max_line} bytes"
                )
        if pending:
            raise BundleFormatError(f"{name}: the last line does not end with a newline")

    def manifest(self) -> tuple[Manifest, bool]:
        if MANIFEST not in self._infos:
            raise BundleFormatError(f"{MANIFEST} is missing: this is not a jitc bundle")
        return Manifest.parse(self.read(MANIFEST, limit=MAX_MANIFEST_BYTES))

    def proof_names(self) -> dict[int, str]:
        found: dict[int, str] = {}
        for name in self._infos:
            match = _PROOF_NAME.fullmatch(name)
            if match:
                found[int(match.group(1))] = name
        return found


def _copied(chunks: Generator[bytes], copy: Callable[[bytes], object]) -> Generator[bytes]:
    with closing(chunks):
        for chunk in chunks:
            copy(chunk)
            yield chunk


_END: Final = object()


def read_ahead(chunks: Generator[bytes], *, depth: int = 2) -> Generator[bytes]:
    """Yield `chunks`, producing them on a helper thread up to `depth` ahead.

    A ZIP member is inflated by zlib, which releases the GIL while it works: the next chunk
    is inflated on the second core while the caller parses this one. Exceptions of the
    producer are raised here; closing this generator stops the producer and waits for it,
    so the member is closed when this returns, never later.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        last: object = _END
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                handoff.put(chunk)
        except BaseException as exc:  # noqa: BLE001 - raised again in the reading thread
            last = exc
        finally:
            chunks.close()
            handoff.put(last)  # exactly one final item, which the reader always takes

    thread = threading.Thread(target=produce, name="jitc-read-ahead", daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            item = handoff.get()
            if item is _END:
                finished = True
                return
            if isinstance(item, BaseException):
                finished = True
                raise item
            yield item  # type: ignore[misc]
    finally:
        if not finished:
            stop.set()
            while (item := handoff.get()) is not _END and not isinstance(item, BaseException):
                pass
        thread.join()


class BundleWriter:
    """Write a bundle as a stream: metadata deflated, evidence stored (hash-friendly, no bombs).

    Works on non-seekable outputs (ZIP data descriptors), so a 4 GiB bundle never sits in
    memory. Members are written in the order the caller adds them.
    """

    def __init__(self, out: str | Path | IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(out, "w", allowZip64=True)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def _info(self, name: str, *, compress: bool) -> zipfile.ZipInfo:
        return _member_info(name, compress=compress)

    def add_bytes(self, name: str, data: bytes) -> None:
        self._zip.writestr(self._info(name, compress=True), data)

    def add_lines(self, name: str, lines: Iterable[bytes]) -> None:
        with self._zip.open(self._info(name, compress=True), "w", force_zip64=True) as member:
            for line in lines:
                member.write(line)
                member.write(b"\n")

    def add_stream(self, name: str, chunks: Iterable[bytes]) -> None:
        with self._zip.open(self._info(name, compress=False), "w", force_zip64=True) as member:
            for chunk in chunks:
                member.write(chunk)

    def add_manifest(self, manifest: Manifest) -> None:
        self.add_bytes(MANIFEST, manifest.canonical_bytes())


def _member_info(name: str, *, compress: bool) -> zipfile.ZipInfo:
    """A member header with a fixed date and mode, so equal inputs give equal bundles."""
    check_member_name(name)
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def append_member(path: str | Path, name: str, data: bytes) -> None:
    """Append one member (the export-time report) to a finished bundle on disk."""
    with zipfile.ZipFile(path, "a", allowZip64=True) as archive:
        archive.writestr(_member_info(name, compress=True), data)
