"""tus uploads (https://tus.io/protocols/resumable-upload): creation, status, append,
termination. The last bytes finish the upload in the store and ingest it (the steps of
`server.services.content.ingest`)."""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from custody.entry import Actor
from evidence import (
    DigestMismatchError,
    EvidenceError,
    LeaseHeldError,
    ObjectExistsError,
    OffsetMismatchError,
    TooLargeError,
    UploadLockedError,
    UploadNotFoundError,
    UploadState,
    exhibit_key,
)
from server.auth import Principal
from server.db import read_transaction, write_transaction
from server.errors import NotFoundError, PayloadTooLargeError
from server.permissions import Action
from server.repositories import content as content_repo
from server.repositories import log as log_repo
from server.services.content.access import authorize_upload, exhibit_for
from server.services.content.ingest import (
    MAX_WRITES_PER_EXHIBIT,
    Ingested,
    actor_from_json,
    begin_write,
    commit_ingest,
    forget_write,
    reject,
)
from server.services.content.values import ContentMeta
from server.services.leases import ingest_lease
from server.services.workspace import Workspace

log = logging.getLogger("jitc.content")


@dataclass(frozen=True, slots=True)
class UploadView:
    row: content_repo.UploadRow
    state: UploadState
    ingested: Ingested | None = None

    @property
    def expires(self) -> datetime:
        return self.row.expires_at


@dataclass(frozen=True, slots=True)
class UploadStatus:
    """What tus HEAD tells: also for an upload already finished and ingested (`expires`
    None), so a client resuming it learns it is complete rather than creating it again."""

    offset: int
    length: int | None
    expires: datetime | None
    metadata_header: str | None


# How long a HEAD waits for a PATCH of the same upload still being stored. A PATCH whose
# client gave up ends as soon as the server sees the connection close (it writes and syncs
# at most its 8 MiB read-ahead): well under this. A PATCH that is merely slow, still sending,
# must not hold a HEAD (and its worker thread) for long: after this wait the HEAD answers
# with the bytes stored so far, which is the offset at that moment (tus 1.0 HEAD).
PATCH_SETTLE_WAIT = 2.0


class _PatchesInFlight:
    """The uploads this process is appending to. A HEAD waits until none is, so the offset
    it reports is the one the next PATCH must send (a client that aborted a PATCH and
    resumed at once would otherwise be told an offset the old PATCH is still moving)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy: dict[str, int] = {}

    @contextmanager
    def patching(self, upload_id: str) -> Iterator[None]:
        with self._cond:
            self._busy[upload_id] = self._busy.get(upload_id, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                left = self._busy[upload_id] - 1
                if left:
                    self._busy[upload_id] = left
                else:
                    del self._busy[upload_id]
                self._cond.notify_all()

    def busy(self, upload_id: str) -> bool:
        with self._cond:
            return upload_id in self._busy

    def settle(self, upload_id: str, timeout: float = PATCH_SETTLE_WAIT) -> None:
        with self._cond:
            self._cond.wait_for(lambda: upload_id not in self._busy, timeout)


IN_FLIGHT = _PatchesInFlight()


def patching(upload_id: str) -> AbstractContextManager[None]:
    """Mark a tus PATCH of `upload_id` under way, from the moment its request arrives (the
    API enters this before anything else, so a HEAD that comes after cannot overtake it)."""
    return IN_FLIGHT.patching(upload_id)


def create_upload(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    meta: ContentMeta,
    length: int,
) -> UploadView:
    """tus creation: record the upload, then begin it in the store."""
    limit = ws.settings.max_upload_bytes
    if length > limit:
        raise PayloadTooLargeError(
            f"the content is larger than {limit} bytes", code="content_too_large"
        )
    _reclaim_abandoned(ws, principal, exhibit_id)
    row = begin_write(ws, principal, case_id, exhibit_id, meta, kind="tus", length=length)
    metadata = {"filename": meta.filename, "media_type": meta.media_type}
    try:
        state = ws.store.begin_upload(
            uuid.UUID(row.id), exhibit_key(case_id, exhibit_id), length, metadata, max_size=limit
        )
    except BaseException:
        forget_write(ws, row.id)
        raise
    if length == 0:  # nothing to PATCH: complete at once
        return UploadView(row, state, _finish_upload(ws, principal.actor(), row))
    return UploadView(row, state)


def _same_person(actor: Actor, principal: Principal) -> bool:
    # The same person, not the same token: an upload may outlive a token.
    return (actor.jurisdiction, actor.sub, actor.role) == (
        principal.jurisdiction,
        principal.sub,
        principal.role,
    )


def _reclaim_abandoned(ws: Workspace, principal: Principal, exhibit_id: str) -> None:
    """At the cap of writes in progress, end the caller's own tus uploads that never
    received a byte (a creation whose answer the client never saw, a retry of one): a
    client retrying creation must not lock itself out of the exhibit for a day. Uploads
    with bytes, and other people's, are left alone: they are still the cap."""
    with read_transaction(ws.engine) as conn:
        rows = content_repo.uploads_of_exhibit(conn, exhibit_id)
    if len(rows) < MAX_WRITES_PER_EXHIBIT:
        return
    for row in rows:
        if row.kind != "tus" or not _same_person(actor_from_json(row.actor), principal):
            continue
        if IN_FLIGHT.busy(row.id):
            continue
        try:
            if ws.store.status(uuid.UUID(row.id)).offset != 0:
                continue
        except UploadNotFoundError:
            pass  # its bytes are gone already: only the record is left
        abort_quietly(ws, row.id)
        forget_write(ws, row.id)


def _upload_row(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, upload_id: str
) -> content_repo.UploadRow:
    with read_transaction(ws.engine) as conn:
        exhibit_for(conn, principal, case_id, exhibit_id, Action.CONTENT_UPLOAD)
        row = content_repo.get_upload(conn, upload_id)
    if row is None or row.kind != "tus" or row.exhibit_id != exhibit_id:
        raise NotFoundError("no such upload (finished, terminated or expired)")
    # A tus upload is its creator's: a colleague of the same state may neither append to
    # it (their bytes would become evidence under the creator's filename) nor end it.
    if not _same_person(actor_from_json(row.actor), principal):
        raise NotFoundError("no such upload (finished, terminated or expired)")
    if row.expires_at < datetime.now(UTC):
        raise NotFoundError("the upload expired", code="upload_expired")
    return row


def upload_status(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, upload_id: str
) -> UploadStatus:
    """tus HEAD: the upload's offset once no PATCH of it is under way here; for an upload
    that was finished and ingested, its length as the offset."""
    # Wait first, then look: a PATCH that finishes the upload meanwhile removes its record,
    # and the answer must then be "complete", not a stale offset or a 404.
    IN_FLIGHT.settle(upload_id)
    try:
        row = _upload_row(ws, principal, case_id, exhibit_id, upload_id)
    except NotFoundError as missing:
        finished = _finished(ws, principal, case_id, exhibit_id, upload_id)
        if finished is None:
            raise missing from None
        return finished
    state = ws.store.status(uuid.UUID(upload_id))
    return UploadStatus(state.offset, state.length, row.expires_at, row.metadata_header)


def _finished(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, upload_id: str
) -> UploadStatus | None:
    """The upload, if it is the one the exhibit's content came by, and the caller sent it."""
    with read_transaction(ws.engine) as conn:
        exhibit_for(conn, principal, case_id, exhibit_id, Action.CONTENT_UPLOAD)
        stored = content_repo.get(conn, exhibit_id)
        if stored is None:
            return None
        raw = log_repo.entries(conn, case_id, stored.ingested_seq, stored.ingested_seq + 1)
    if not raw:
        return None
    entry = json.loads(raw[0])
    data = entry.get("data") or {}
    if data.get("upload") != upload_id:
        return None
    actor = entry.get("actor") or {}
    if (actor.get("jurisdiction"), actor.get("sub"), actor.get("role")) != (
        principal.jurisdiction,
        principal.sub,
        principal.role,
    ):
        return None
    # The metadata the client created the upload with, as the entry recorded it: its
    # declared SHA-256 too, which equals the stored one (else the ingest was refused).
    fields = {"filename": "filename", "filetype": "media_type"}
    if data.get("declared_sha256"):
        fields["sha256"] = "sha256"
    metadata = ",".join(
        f"{key} {base64.b64encode(str(data[name]).encode()).decode()}"
        for key, name in fields.items()
        if data.get(name)
    )
    return UploadStatus(stored.size, stored.size, None, metadata or None)


def append_upload(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    upload_id: str,
    offset: int,
    chunks: Iterable[bytes],
    *,
    body_length: int | None = None,
) -> UploadView:
    """tus PATCH: append at `offset`; the last bytes finish the upload and ingest it.

    Bytes past the declared Upload-Length are refused (413) and the upload stays as it
    was before them, to be resumed: refused before reading when Content-Length says so,
    and otherwise before storing the part that crosses."""
    row = _upload_row(ws, principal, case_id, exhibit_id, upload_id)
    if row.length is not None and body_length is not None and offset + body_length > row.length:
        stored = ws.store.status(uuid.UUID(upload_id)).offset
        if stored != offset:  # the wrong offset is the first thing wrong: 409, as always
            raise OffsetMismatchError(uuid.UUID(upload_id), expected=stored, got=offset)
        raise _past_length(row.length)
    expires = datetime.now(UTC) + timedelta(seconds=ws.settings.upload_expiry)
    with write_transaction(ws.engine) as conn:
        # Sealed (or filled) since the upload began: refuse before storing more bytes, so
        # no object is published that could not be logged (and, under Object Lock, not
        # removed either). The case lock re-checks at commit.
        authorize_upload(conn, principal, case_id, exhibit_id)
        content_repo.touch_upload(conn, upload_id, expires)
    row = content_repo.UploadRow(**{**_fields(row), "expires_at": expires})
    try:
        state = ws.store.append(uuid.UUID(upload_id), offset, _within(chunks, offset, row.length))
    except TooLargeError:
        forget_write(ws, upload_id)  # the store removed the upload
        raise
    if not state.complete:
        return UploadView(row, state)
    return UploadView(row, state, _finish_upload(ws, principal.actor(), row))


def _past_length(length: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the upload is {length} bytes long (Upload-Length) and these bytes go past its "
        "end; what was stored before them is kept (HEAD tells the offset)",
        code="upload_length_exceeded",
    )


def _within(chunks: Iterable[bytes], offset: int, length: int | None) -> Iterator[bytes]:
    """The chunks while they stay within the upload's length; the first that would cross
    it ends the body with a refusal, which the store treats as a broken body: what came
    before is kept (unlike its own size limit, which removes the upload)."""
    room = None if length is None else length - offset
    for chunk in chunks:
        if room is not None:
            if len(chunk) > room:
                raise _past_length(length or 0)
            room -= len(chunk)
        yield chunk


def _fields(row: content_repo.UploadRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in content_repo.UploadRow.__slots__}


def _finish_upload(ws: Workspace, actor: Actor, row: content_repo.UploadRow) -> Ingested:
    # From the store's finish, which creates the object, to the commit that logs it, the
    # write's ingest lease keeps recovery (on any server) from completing it meanwhile. Only
    # this stretch: a server killed while receiving bytes leaves no lease in the way of the
    # client resuming on the restarted or another server.
    try:
        lease = ws.leases.acquire(ingest_lease(row.id))
    except LeaseHeldError:
        raise UploadLockedError(uuid.UUID(row.id)) from None
    try:
        try:
            digests = ws.store.finish(uuid.UUID(row.id), expected_sha256=row.expected_sha256)
        except DigestMismatchError as exc:
            raise reject(ws, actor, row, exc) from None
        except ObjectExistsError:  # another upload won: this one is void
            abort_quietly(ws, row.id)
            forget_write(ws, row.id)
            raise
        return commit_ingest(ws, actor, row, digests)
    finally:
        lease.release()


def abort_quietly(ws: Workspace, upload_id: str) -> None:
    try:
        ws.store.abort(uuid.UUID(upload_id))
    except (UploadNotFoundError, UploadLockedError):
        pass
    except EvidenceError as exc:
        log.warning("could not abort upload %s: %s", upload_id, exc)


def terminate_upload(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, upload_id: str
) -> None:
    """tus termination: remove the upload's bytes and its record."""
    _upload_row(ws, principal, case_id, exhibit_id, upload_id)
    ws.store.abort(uuid.UUID(upload_id))
    forget_write(ws, upload_id)
