"""tus uploads (https://tus.io/protocols/resumable-upload): creation, status, append,
termination. The last bytes finish the upload in the store and ingest it (the steps of
`server.services.content.ingest`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from custody.entry import Actor
from evidence import (
    DigestMismatchError,
    EvidenceError,
    LeaseHeldError,
    ObjectExistsError,
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
from server.services.content.access import authorize_upload, exhibit_for
from server.services.content.ingest import (
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
    # (The same person, not the same token: an upload may outlive a token.)
    creator = actor_from_json(row.actor)
    if (creator.jurisdiction, creator.sub, creator.role) != (
        principal.jurisdiction,
        principal.sub,
        principal.role,
    ):
        raise NotFoundError("no such upload (finished, terminated or expired)")
    if row.expires_at < datetime.now(UTC):
        raise NotFoundError("the upload expired", code="upload_expired")
    return row


def upload_status(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, upload_id: str
) -> UploadView:
    row = _upload_row(ws, principal, case_id, exhibit_id, upload_id)
    return UploadView(row, ws.store.status(uuid.UUID(upload_id)))


def append_upload(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    upload_id: str,
    offset: int,
    chunks: Iterable[bytes],
) -> UploadView:
    """tus PATCH: append at `offset`; the last bytes finish the upload and ingest it."""
    row = _upload_row(ws, principal, case_id, exhibit_id, upload_id)
    expires = datetime.now(UTC) + timedelta(seconds=ws.settings.upload_expiry)
    with write_transaction(ws.engine) as conn:
        # Sealed (or filled) since the upload began: refuse before storing more bytes, so
        # no object is published that could not be logged (and, under Object Lock, not
        # removed either). The case lock re-checks at commit.
        authorize_upload(conn, principal, case_id, exhibit_id)
        content_repo.touch_upload(conn, upload_id, expires)
    row = content_repo.UploadRow(**{**_fields(row), "expires_at": expires})
    try:
        state = ws.store.append(uuid.UUID(upload_id), offset, chunks)
    except TooLargeError:
        forget_write(ws, upload_id)  # the store removed the upload
        raise
    if not state.complete:
        return UploadView(row, state)
    return UploadView(row, state, _finish_upload(ws, principal.actor(), row))


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
