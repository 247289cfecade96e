"""Resumable uploads of the S3 store: bytes straight into multipart upload parts (ADR 0025).

Each full part of an upload goes into a multipart upload on the exhibit's key in the
evidence bucket, which is not an object (so not locked) until it is completed, and
can be aborted; less than a part waits as the tail in the staging bucket
(`evidence.s3.staging`). `finish` checks the SHA-256, then completes the multipart
upload under the key's lease: no byte is copied.

Hashes are computed part by part, as each part leaves, so the state saved with a
part's progress record is exactly that of the bytes in parts. SHA-256 resumes from
it in any process (`evidence.sha256state`); BLAKE3 cannot be saved, so a process
that did not hash the first bytes itself re-reads the completed object for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Final
from uuid import UUID

import blake3

from evidence._ingest import HasherCache, UploadInfo, check_size, parse_expected
from evidence.errors import (
    DigestMismatchError,
    LeaseHeldError,
    LeaseLostError,
    ObjectExistsError,
    OffsetMismatchError,
    StorageUnavailableError,
    TooLargeError,
    UploadCorruptError,
    UploadIncompleteError,
    UploadLockedError,
    UploadNotFoundError,
)
from evidence.hashing import Blake3Hex, Digests, Sha256Hex, Sha256Only, StreamHasher
from evidence.keys import ExhibitKey
from evidence.locking import Lease, LeaseBook
from evidence.s3.buffer import PartBuffer, PartSender
from evidence.s3.client import Listed
from evidence.s3.objects import EvidenceBucket
from evidence.s3.staging import Finishing, Multipart, Progress, Staging
from evidence.sha256state import ResumableSha256
from evidence.store import UploadState

MAX_PART_SIZE: Final = 5 * 1024 * 1024 * 1024
PARTS_PER_SIZE_STEP: Final = 1000
"""Part sizes double every this many parts: 10,000 parts from 5 MiB hold 4.9 TiB."""


def part_size(base: int, index: int) -> int:
    """Size of part `index` (0-based) of an upload whose first parts have `base` bytes."""
    return min(base << (index // PARTS_PER_SIZE_STEP), MAX_PART_SIZE)


class UploadHasher:
    """SHA-256 that can be saved and resumed, and BLAKE3 while this process saw every byte."""

    __slots__ = ("blake3", "sha256")

    def __init__(self, sha256: ResumableSha256 | None = None) -> None:
        self.sha256 = sha256 or ResumableSha256()
        self.blake3: blake3.blake3 | None = blake3.blake3() if sha256 is None else None

    @property
    def size(self) -> int:
        return self.sha256.size

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self.sha256.update(data)
        if self.blake3 is not None:
            self.blake3.update(data)

    def digests(self) -> Digests | None:
        if self.blake3 is None:
            return None
        return Digests(
            size=self.size,
            sha256_hex=Sha256Hex(self.sha256.hexdigest()),
            blake3_hex=Blake3Hex(self.blake3.hexdigest()),
        )


def _counted(chunks: Iterable[bytes], stored: int, limit: int | None) -> Iterator[bytes]:
    """The non-empty chunks; TooLargeError at the first one that would pass `limit`."""
    for chunk in chunks:
        if not chunk:
            continue
        stored += len(chunk)
        if limit is not None and stored > limit:
            raise TooLargeError(limit)
        yield chunk


class Uploads:
    """begin, append, status, finish, abort and expire of the S3 store."""

    def __init__(
        self,
        bucket: EvidenceBucket,
        staging: Staging,
        *,
        leases: LeaseBook,
        part_size: int,
        parallel: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._bucket = bucket
        self._parallel = parallel
        self._staging = staging
        self._leases = leases
        self._part_size = part_size
        self._clock = clock
        self._hashers: HasherCache[UploadHasher] = HasherCache()

    @contextlib.contextmanager
    def _lease(self, upload_id: UUID) -> Iterator[Lease]:
        try:
            lease = self._leases.acquire(f"upload:{self._staging.bucket}:{upload_id}")
        except LeaseHeldError:
            raise UploadLockedError(upload_id) from None
        try:
            yield lease
        except LeaseLostError:
            raise UploadLockedError(upload_id) from None
        finally:
            lease.release()

    def begin(
        self,
        upload_id: UUID,
        key: ExhibitKey,
        length: int | None,
        metadata: dict[str, str],
        max_size: int | None,
    ) -> UploadState:
        check_size(length)
        check_size(max_size)
        if length is not None and max_size is not None and length > max_size:
            raise TooLargeError(max_size)
        info = UploadInfo(
            key=key, length=length, max_size=max_size, metadata=metadata, created=self._clock()
        )
        if self._bucket.occupied(key):
            raise ObjectExistsError(key)
        with self._lease(upload_id):
            self._staging.write_info(upload_id, info)
        return info.state(upload_id, offset=0, updated=info.created)

    def status(self, upload_id: UUID) -> UploadState:
        info = self._staging.read_info(upload_id)
        progress = self._staging.progress(upload_id)
        tail = self._staging.tail(upload_id, progress.size)
        updated = max(info.created, self._staging.last_written(upload_id) or info.created)
        offset = progress.size + (tail.size if tail else 0)
        return info.state(upload_id, offset=offset, updated=updated)

    def _hasher_at(self, upload_id: UUID, progress: Progress) -> UploadHasher:
        """Hash state over the bytes in parts: this process's, or resumed from the record."""
        hasher = self._hashers.take(upload_id)
        if hasher is not None and hasher.size == progress.size:
            return hasher
        if progress.sha256_state is None:
            return UploadHasher()
        try:
            resumed = UploadHasher(ResumableSha256.resume(progress.sha256_state))
        except ValueError as exc:
            raise UploadCorruptError(upload_id, f"unreadable hash state: {exc}") from exc
        if resumed.size != progress.size:
            raise UploadCorruptError(upload_id, "hash state and progress disagree")
        return resumed

    def append(self, upload_id: UUID, offset: int, chunks: Iterable[bytes]) -> UploadState:
        with self._lease(upload_id) as lease:
            return _Append(self, upload_id, lease).run(offset, chunks)

    def finish(self, upload_id: UUID, expected_sha256: str | None) -> Digests:
        expected = parse_expected(expected_sha256)
        with self._lease(upload_id):
            return self._finish(upload_id, expected)

    def _finish(self, upload_id: UUID, expected: str | None) -> Digests:
        staging = self._staging
        info = staging.read_info(upload_id)
        progress = staging.progress(upload_id)
        tail = staging.tail(upload_id, progress.size)
        end = progress.size + (tail.size if tail else 0)
        if info.length is not None and end != info.length:
            raise UploadIncompleteError(upload_id, offset=end, length=info.length)
        hasher = self._hasher_at(upload_id, progress)
        rest = self._read_tail(upload_id, tail)
        hasher.update(rest)
        sha256 = hasher.sha256.hexdigest()
        if expected is not None and sha256 != expected:
            self.remove(upload_id)
            computed = hasher.digests() or Sha256Only(end, Sha256Hex(sha256))
            raise DigestMismatchError(computed, expected)
        multipart = staging.multipart(upload_id)
        key = info.key
        completes = multipart is not None and progress.parts > 0
        with self._bucket.key_lock(key):
            if self._bucket.occupied(key):
                if not self._finished_before(upload_id, key, end, sha256):
                    raise ObjectExistsError(key)  # the upload stays whole: the caller decides
            else:
                staging.write_finishing(upload_id, Finishing(end, sha256))
                if multipart is None or not completes:
                    self._bucket.put_small(key, rest)
                else:
                    parts = progress.parts
                    if rest:
                        parts += 1
                        with memoryview(rest) as view:
                            self._bucket.upload_part(
                                key, multipart.upload_id, parts, view, multipart.checksum
                            )
                    self._bucket.complete(key, multipart.upload_id, parts, end)
            self._bucket.seal(key, end)
        del rest  # before a re-read: memory stays at about one part
        digests = hasher.digests() or self._reread(upload_id, key, sha256)
        self.remove(upload_id, completed=completes)
        return digests

    def _read_tail(self, upload_id: UUID, tail: Listed | None) -> bytearray:
        rest = bytearray(0 if tail is None else tail.size)
        if tail is not None:
            filled = 0
            for chunk in self._staging.read_tail(tail):
                rest[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
            if filled != tail.size:
                raise UploadCorruptError(upload_id, "the staged tail changed while read")
        return rest

    def _finished_before(self, upload_id: UUID, key: ExhibitKey, size: int, sha256: str) -> bool:
        """An earlier finish of this upload created the object, then failed: it counts.

        Told by the bytes, not by any reply: the object must hash to the upload's SHA-256."""
        finishing = self._staging.finishing(upload_id)
        if finishing is None or finishing != Finishing(size, sha256):
            return False
        hasher = StreamHasher()
        for chunk in self._bucket.client.read(self._bucket.name, key.path, 0, size):
            hasher.update(chunk)
        return hasher.size == size and hasher.digests().sha256_hex == sha256

    def _reread(self, upload_id: UUID, key: ExhibitKey, sha256: str) -> Digests:
        """Both hashes of the created object, for a process without the BLAKE3 state."""
        head = self._bucket.client.head(self._bucket.name, key.path)
        if head is None:
            raise StorageUnavailableError(f"{key} vanished right after it was created")
        hasher = StreamHasher()
        for chunk in self._bucket.client.read(self._bucket.name, key.path, 0, head.size):
            hasher.update(chunk)
        digests = hasher.digests()
        if digests.sha256_hex != sha256:
            raise UploadCorruptError(upload_id, f"{key} does not hold the bytes received")
        return digests

    def remove(self, upload_id: UUID, *, completed: bool = False) -> None:
        """Abort the multipart upload (unless completed) and delete everything staged.

        Records too damaged to name the multipart upload leave it to `expire`, which
        aborts every one that no upload records."""
        self._hashers.drop(upload_id)
        with contextlib.suppress(UploadNotFoundError, UploadCorruptError):
            multipart = self._staging.multipart(upload_id)
            if multipart is not None and not completed:
                key = self._staging.read_info(upload_id).key
                self._bucket.client.abort_quietly(self._bucket.name, key.path, multipart.upload_id)
        self._staging.remove(upload_id)

    def abort(self, upload_id: UUID) -> None:
        with self._lease(upload_id):
            self._staging.read_info(upload_id)
            self.remove(upload_id)

    def expire(self, older_than: datetime) -> tuple[list[UUID], set[str]]:
        """Remove uploads idle since `older_than`; also the multipart uploads still in use."""
        removed: list[UUID] = []
        live: set[str] = set()
        for upload_id in self._staging.upload_ids():
            with contextlib.suppress(UploadLockedError), self._lease(upload_id):
                last = self._staging.last_written(upload_id)
                if last is None or last < older_than:
                    self.remove(upload_id)
                    removed.append(upload_id)
                    continue
            with contextlib.suppress(UploadCorruptError):
                multipart = self._staging.multipart(upload_id)
                if multipart is not None:
                    live.add(multipart.upload_id)
        return removed, live


class _Append:
    """One append: the tail reloaded, full parts uploaded as more bytes come, a new tail.

    Parts are hashed in order as they leave the buffer; they may be sent side by side
    (`parallel_parts`), and each one's progress is recorded as soon as it and every part
    before it are on the server, even while the body pauses."""

    def __init__(self, uploads: Uploads, upload_id: UUID, lease: Lease) -> None:
        self.u = uploads
        self.upload_id = upload_id
        self.lease = lease
        staging = uploads._staging
        self.info = staging.read_info(upload_id)
        self.progress = staging.progress(upload_id)  # recorded: the commit point
        self.queued = self.progress  # after the last part handed to the sender
        self.pending: dict[int, Progress] = {}
        self.tail = staging.tail(upload_id, self.progress.size)
        self.multipart = staging.multipart(upload_id)
        self.written = self.tail.size if self.tail else 0  # buffer bytes already staged
        self.stale_from: int | None = self.progress.size if self.tail else None

    def run(self, offset: int, chunks: Iterable[bytes]) -> UploadState:
        u, upload_id = self.u, self.upload_id
        stored = self.progress.size + self.written
        if offset != stored:
            raise OffsetMismatchError(upload_id, expected=stored, got=offset)
        self.hasher = u._hasher_at(upload_id, self.progress)
        base = self.multipart.part_size if self.multipart else u._part_size
        first = self.progress.parts
        # Neither is kept on self: they hold this object's methods, and a cycle would
        # keep their parts of memory alive after the request.
        sender = PartSender(self._upload, u._parallel, on_sent=self._recorded)

        def emit(full: bytearray) -> bytearray | None:
            return sender.send(self._queue(full), full)

        buffer = PartBuffer(lambda n: part_size(base, first + n), emit)
        if self.tail is not None:
            for chunk in u._staging.read_tail(self.tail):
                buffer.write(chunk)
        body = _counted(chunks, stored, self.info.limit)
        try:
            while True:
                try:
                    chunk = next(body)
                except StopIteration:
                    break
                except TooLargeError:
                    raise
                except BaseException:
                    # The body broke off (a client disconnect): keep what arrived, so the
                    # client resumes from there.
                    self._stage_tail(buffer, sender)
                    raise
                buffer.write(chunk)
            self._stage_tail(buffer, sender)
        except TooLargeError:
            sender.close()
            u.remove(upload_id)
            raise
        finally:
            sender.close()
            # Kept only if it covers exactly the bytes in parts.
            u._hashers.keep(upload_id, self.hasher, self.progress.size)
        offset = self.progress.size + self.written
        return self.info.state(upload_id, offset=offset, updated=u._clock())

    def _queue(self, part: bytearray) -> int:
        """Hash the part and give it its number; the first one starts the multipart upload."""
        u = self.u
        self.lease.renew()
        self.hasher.update(part)
        if self.multipart is None:
            self.multipart = Multipart(
                u._bucket.start_multipart(self.info.key), u._part_size, u._bucket.checksum
            )
            u._staging.write_multipart(self.upload_id, self.multipart)
        number = self.queued.parts + 1
        self.queued = Progress(number, self.queued.size + len(part), self.hasher.sha256.state())
        self.pending[number] = self.queued
        self.written = 0
        return number

    def _upload(self, number: int, part: memoryview) -> None:
        multipart = self.multipart
        assert multipart is not None
        self.u._bucket.upload_part(
            self.info.key, multipart.upload_id, number, part, multipart.checksum
        )

    def _recorded(self, number: int) -> None:
        """Part `number` and all before it are on the server: record the progress.

        Runs on the thread that sent the part, one call at a time (`PartSender`); the
        request's thread reads `progress` only once every part is sent."""
        staging = self.u._staging
        self.lease.renew()
        self.progress = self.pending.pop(number)
        staging.write_progress(self.upload_id, self.progress)
        if self.stale_from is not None:
            # The reloaded tail's bytes are in a part now: stale by name, removed here.
            staging.remove_tail(self.upload_id, self.stale_from)
            self.stale_from = None

    def _stage_tail(self, buffer: PartBuffer, sender: PartSender) -> None:
        sender.drain()
        if buffer.fill > self.written:
            self.lease.renew()
            with buffer.pending() as rest:
                self.u._staging.put_tail(self.upload_id, self.progress.size, rest)
            self.written = buffer.fill
