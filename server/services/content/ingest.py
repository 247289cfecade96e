"""Content in: the three steps of every write to the store, and PUT …/content.

Storage effects never happen inside a unit of work (ADR 0003: units of work may be run
twice and must have no effects outside their connection). So every write to the store
happens *before* the unit of work that logs it, bracketed by a `content_uploads` row:

1. a write transaction checks the exhibit (exists, not sealed, no content yet, the
   caller may upload) and records the write in progress (no custody entry): `begin_write`;
2. the bytes go to the store (`put_stream`, or tus `append`/`finish`), which creates the
   object atomically and never overwrites one;
3. a unit of work checks again under the case lock, inserts the `exhibit_contents` row,
   appends `exhibit.ingested` and deletes the in-progress row, in one transaction:
   `commit_ingest`.

A crash between 2 and 3 leaves an object and its in-progress row: the recovery sweep finds
it and completes the ingest (or, if the exhibit was sealed meanwhile, removes or reports
the object). See docs/adr/0012-content-ingest-and-recovery.md. While a live request may
create the object and log it (a whole PUT, a tus finish and commit) it holds the write's
ingest lease in the database, and recovery on any server leaves the write alone (ADR 0036).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from custody.entry import Actor
from evidence import (
    DigestMismatchError,
    Digests,
    EvidenceError,
    ExhibitKey,
    Lease,
    LeaseLostError,
    StorageUnavailableError,
    exhibit_key,
)
from server.auth import Principal
from server.db import read_transaction, write_transaction
from server.errors import ConflictError, ServerError, UnprocessableContentError
from server.repositories import content as content_repo
from server.repositories import exhibits as exhibit_repo
from server.services.content.access import authorize_upload, check_accepts_content, exhibit_in_case
from server.services.content.values import ContentMeta
from server.services.custody_log import CaseLog
from server.services.leases import ingest_lease
from server.services.workspace import Workspace

log = logging.getLogger("jitc.content")

MAX_WRITES_PER_EXHIBIT: Final = 8


@dataclass(frozen=True, slots=True)
class Ingested:
    seq: int
    digests: Digests
    filename: str
    media_type: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": "exhibit.ingested",
            "size": self.digests.size,
            "sha256": self.digests.sha256_hex,
            "blake3": self.digests.blake3_hex,
            "filename": self.filename,
            "media_type": self.media_type,
        }


def actor_from_json(raw: str) -> Actor:
    """The actor a write in progress was begun by (its row keeps them as JSON)."""
    doc = json.loads(raw)
    return Actor(
        jurisdiction=doc["jurisdiction"], sub=doc["sub"], role=doc["role"], token=doc["token"]
    )


def begin_write(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    meta: ContentMeta,
    *,
    kind: str,
    length: int | None,
) -> content_repo.UploadRow:
    """Step 1: check, and record the write in progress (no custody entry)."""
    now = datetime.now(UTC)
    row = content_repo.UploadRow(
        id=str(uuid.uuid4()),
        kind=kind,
        case_id=case_id,
        exhibit_id=exhibit_id,
        actor=json.dumps(principal.actor().to_json(), sort_keys=True),
        length=length,
        filename=meta.filename,
        media_type=meta.media_type,
        expected_sha256=meta.expected_sha256,
        created_at=now,
        expires_at=now + timedelta(seconds=ws.settings.upload_expiry),
        metadata_header=meta.metadata_header,
    )
    with write_transaction(ws.engine) as conn:
        authorize_upload(conn, principal, case_id, exhibit_id)
        # Each write may stage up to the size limit for a day: bound how many one exhibit
        # can have at once (an exhibit gets one content; a few retries are plenty).
        if content_repo.count_writes(conn, exhibit_id) >= MAX_WRITES_PER_EXHIBIT:
            raise ConflictError(
                f"the exhibit already has {MAX_WRITES_PER_EXHIBIT} uploads in progress; "
                "finish or terminate one",
                code="too_many_uploads",
            )
        content_repo.insert_upload(conn, row)
    return row


def forget_write(ws: Workspace, upload_id: str) -> None:
    with write_transaction(ws.engine) as conn:
        content_repo.delete_upload(conn, upload_id)


def reject(
    ws: Workspace, actor: Actor, row: content_repo.UploadRow, error: DigestMismatchError
) -> UnprocessableContentError:
    """Log exhibit.ingest_rejected (the store already removed the bytes); the 422 to raise."""

    def work(log: CaseLog) -> int:
        content_repo.delete_upload(log.conn, row.id)
        entry = log.append(
            actor,
            "exhibit.ingest_rejected",
            exhibit=row.exhibit_id,
            data={
                "reason": "sha256_mismatch",
                "size": error.computed.size,
                "sha256": error.computed.sha256_hex,
                "expected_sha256": error.expected_sha256,
            },
        )
        return entry.seq

    ws.committer.run(row.case_id, work)
    return UnprocessableContentError(
        f"the content's SHA-256 is {error.computed.sha256_hex}, "
        f"not the declared {error.expected_sha256}; nothing was stored"
    )


def commit_ingest(
    ws: Workspace,
    actor: Actor,
    row: content_repo.UploadRow,
    digests: Digests,
    *,
    recovered: bool = False,
) -> Ingested:
    """Step 3: the unit of work that makes the stored object the exhibit's content."""

    def work(log: CaseLog) -> Ingested:
        exhibit = exhibit_in_case(log.conn, row.case_id, row.exhibit_id)
        check_accepts_content(log.conn, exhibit)
        data: dict[str, object] = {
            "size": digests.size,
            "sha256": digests.sha256_hex,
            "blake3": digests.blake3_hex,
            "filename": row.filename,
            "media_type": row.media_type,
            # whether the client declared the SHA-256 before sending (and it matched): the
            # difference between "checked against the sender's hash" and "as received"
            "declared_sha256": row.expected_sha256 is not None,
        }
        if row.kind == "tus":
            # the tus upload it came by: a client resuming that upload later learns it is
            # complete (HEAD) instead of creating it again
            data["upload"] = row.id
        if recovered:
            data["recovered"] = True  # completed by recovery after an interrupted request
        entry = log.append(actor, "exhibit.ingested", exhibit=row.exhibit_id, data=data)
        content_repo.insert_content(
            log.conn,
            exhibit_id=row.exhibit_id,
            case_id=row.case_id,
            size=digests.size,
            sha256=digests.sha256_hex,
            blake3=digests.blake3_hex,
            filename=row.filename,
            media_type=row.media_type,
            now=datetime.now(UTC),
            seq=entry.seq,
        )
        content_repo.delete_upload(log.conn, row.id)
        return Ingested(entry.seq, digests, row.filename, row.media_type)

    key = exhibit_key(row.case_id, row.exhibit_id)
    # Only a deliberate refusal (ServerError) discards the stored object. Anything else (a
    # connection lost during COMMIT, a locked database) may or may not have committed: the
    # object and the write row stay, and the recovery sweep decides under the case lock
    # (it completes or discards the ingest, ADR 0012).
    try:
        ingested = ws.committer.run(row.case_id, work)
    except ServerError as exc:
        # Refused on purpose (sealed meanwhile, 403...): the object is ours to remove,
        # unless the exhibit already has content, stored by another write (recovery
        # racing the request), which must stay.
        if not (isinstance(exc, ConflictError) and exc.code == "content_exists"):
            _remove_orphan(ws, key)
        try:
            forget_write(ws, row.id)
        except Exception:  # noqa: BLE001 - the sweep forgets it later
            log.warning("could not forget content write %s", row.id)
        raise
    _hold_if_held(ws, row.case_id, row.exhibit_id)
    return ingested


def _remove_orphan(ws: Workspace, key: ExhibitKey) -> None:
    """An object no entry refers to (the exhibit was sealed meanwhile): remove it, or say
    loudly that retention keeps it (the object is then reported by `jitc scrub`)."""
    try:
        result = ws.store.dispose(key)
    except (EvidenceError, OSError) as exc:
        log.error("orphan object %s could not be removed: %s", key, exc)
        return
    if not result.removed:
        log.error("orphan object %s is retained until %s", key, result.retained_until)


def _hold_if_held(ws: Workspace, case_id: str, exhibit_id: str) -> None:
    """Content that arrives for an exhibit under legal hold gets the store's hold too."""
    with read_transaction(ws.engine) as conn:
        row = exhibit_repo.get(conn, case_id, exhibit_id)
    if row is not None and row.legal_hold:
        ws.store.set_legal_hold(exhibit_key(case_id, exhibit_id), True)


def ingest_stream(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    meta: ContentMeta,
    chunks: Iterable[bytes],
) -> Ingested:
    """PUT …/content: stream `chunks` into the store, then log exhibit.ingested."""
    row = begin_write(ws, principal, case_id, exhibit_id, meta, kind="put", length=None)
    try:
        lease = ws.leases.acquire(ingest_lease(row.id))  # a fresh id: nobody else has it
    except BaseException:
        forget_write(ws, row.id)
        raise
    try:
        try:
            digests = ws.store.put_stream(
                exhibit_key(case_id, exhibit_id),
                renewing(chunks, lease),
                expected_sha256=meta.expected_sha256,
                max_size=ws.settings.max_upload_bytes,
            )
        except DigestMismatchError as exc:
            raise reject(ws, principal.actor(), row, exc) from None
        except StorageUnavailableError:
            # The store failed, perhaps after creating the object: the row stays, and the
            # recovery sweep completes the ingest if the object is there (ADR 0012).
            raise
        except LeaseLostError:
            forget_write(ws, row.id)  # the store removed what it had taken
            raise WriteTakenOverError from None
        except BaseException:
            forget_write(ws, row.id)  # nothing was stored
            raise
        return commit_ingest(ws, principal.actor(), row, digests)
    finally:
        lease.release()


class WriteTakenOverError(ConflictError):
    """A write idle for longer than its lease was given up (by recovery, on any server)."""

    default_code = "write_expired"

    def __init__(self) -> None:
        super().__init__(
            "the upload paused for longer than the server keeps a write open and was given "
            "up; send it again"
        )


def renewing(chunks: Iterable[bytes], lease: Lease) -> Iterator[bytes]:
    """The chunks, the write's lease renewed before each (it writes to the database only
    every few minutes), so recovery never takes a write that is still arriving."""
    for chunk in chunks:
        lease.renew()
        yield chunk
