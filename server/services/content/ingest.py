"""Exhibit content: ingest, download, re-verification, disposal, recovery (issue 4).

Storage effects never happen inside a unit of work (ADR 0003: units of work may be run
twice and must have no effects outside their connection). So every write to the store
happens *before* the unit of work that logs it, bracketed by a `content_uploads` row:

1. a write transaction checks the exhibit (exists, not sealed, no content yet, the
   caller may upload) and records the write in progress (no custody entry);
2. the bytes go to the store (`put_stream`, or tus `append`/`finish`), which creates the
   object atomically and never overwrites one;
3. a unit of work checks again under the case lock, inserts the `exhibit_contents` row,
   appends `exhibit.ingested` and deletes the in-progress row, in one transaction.

A crash between 2 and 3 leaves an object and its in-progress row: `recover` finds it and
completes the ingest (or, if the exhibit was sealed meanwhile, removes or reports the
object). See docs/adr/0012-content-ingest-and-recovery.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from sqlalchemy import Connection

from custody.entry import SYSTEM_ACTOR, Actor
from evidence import (
    ByteRange,
    DigestMismatchError,
    Digests,
    EvidenceError,
    ExhibitKey,
    InvalidDigestError,
    LegalHoldActiveError,
    ObjectExistsError,
    ObjectNotFoundError,
    OffsetMismatchError,
    StorageUnavailableError,
    TooLargeError,
    UploadIncompleteError,
    UploadLockedError,
    UploadNotFoundError,
    UploadState,
    exhibit_key,
    hash_chunks,
    parse_sha256_hex,
    resolve_range,
)
from evidence import RangeNotSatisfiableError as StoreRangeError
from server.auth import Principal
from server.db import read_transaction, write_transaction
from server.errors import (
    BusyError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RangeNotSatisfiableError,
    ServerError,
    StorageError,
    UnprocessableContentError,
)
from server.permissions import GRANTABLE_ROLES, Action, authorize
from server.repositories import cases as case_repo
from server.repositories import content as content_repo
from server.repositories import exhibits as exhibit_repo
from server.repositories import shares as share_repo
from server.services.cases import locked_standing, standing
from server.services.custody_log import CaseLog
from server.services.workspace import Workspace

log = logging.getLogger("jitc.content")
T = TypeVar("T")

MAX_FILENAME_CHARS: Final = 4096
MAX_MEDIA_TYPE_CHARS: Final = 255
MAX_PURPOSE_CHARS: Final = 1000
DEFAULT_MEDIA_TYPE: Final = "application/octet-stream"
DEFAULT_PURPOSE: Final = "inspection"
EMPTY_SHA256: Final = hash_chunks([]).sha256_hex

# Characters that change how text around them is displayed (bidirectional overrides and
# isolates, e.g. U+202E RIGHT-TO-LEFT OVERRIDE turning "gpj.exe" into "exe.jpg").
_BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


# --- input values ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContentMeta:
    """What the client says about the content: kept as given, used only as data."""

    filename: str
    media_type: str
    expected_sha256: str | None


def parse_filename(value: str | None) -> str:
    """The client's filename, stored exactly as given (spec 2.1 data.filename).

    It is never used in a path (objects are named by ids only), so `../`, control
    characters and bidi overrides are kept; only NUL (which PostgreSQL text cannot
    hold) and absurd lengths are refused."""
    if value is None:
        return ""
    if len(value) > MAX_FILENAME_CHARS:
        raise InvalidRequestError(
            f"the filename is longer than {MAX_FILENAME_CHARS} characters", code="bad_filename"
        )
    if "\x00" in value:
        raise InvalidRequestError("the filename contains a NUL character", code="bad_filename")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InvalidRequestError("the filename is not valid Unicode", code="bad_filename")
    return value


def parse_media_type(value: str | None) -> str:
    if not value:
        return DEFAULT_MEDIA_TYPE
    media = value.strip()
    if len(media) > MAX_MEDIA_TYPE_CHARS or not media.isprintable() or not media.isascii():
        raise InvalidRequestError("the media type is not a printable ASCII string")
    return media


def parse_expected_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_sha256_hex(value)
    except InvalidDigestError:
        raise InvalidRequestError(
            "the declared SHA-256 must be 32 bytes", code="bad_digest"
        ) from None


def parse_purpose(value: str | None) -> str:
    purpose = DEFAULT_PURPOSE if value is None else value.strip()
    if not purpose or len(purpose) > MAX_PURPOSE_CHARS or not purpose.isprintable():
        raise InvalidRequestError(
            f"the purpose must be 1 to {MAX_PURPOSE_CHARS} printable characters",
            code="bad_purpose",
        )
    return purpose


def display_filename(filename: str, *, limit: int = 255) -> str:
    """A filename safe to show or to offer as a download name: no path separators,
    control or bidi characters, no leading dots, at most `limit` characters."""
    unsafe = _BIDI_CONTROLS | frozenset("/\\")
    safe = "".join(
        "_" if c in unsafe or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
        for c in filename
    )
    safe = safe.lstrip(".").strip()
    return safe[:limit] or "content"


# --- views --------------------------------------------------------------------------------


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


def content_json(row: content_repo.ContentRow) -> dict[str, Any]:
    """An exhibit's content as the exhibit views show it."""
    return {
        "size": row.size,
        "sha256": row.sha256,
        "blake3": row.blake3,
        "filename": row.filename,
        "filename_display": display_filename(row.filename),
        "media_type": row.media_type,
        "ingested_at": row.ingested_at.isoformat(),
        "ingested_seq": row.ingested_seq,
        "disposed": row.disposed,
        "removed": row.removed,
        "retained_until": row.retained_until.isoformat() if row.retained_until else None,
    }


@dataclass(frozen=True, slots=True)
class Verified:
    seq: int
    ok: bool
    digests: Digests | None
    recorded: content_repo.ContentRow

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": "exhibit.verified",
            "ok": self.ok,
            "size": None if self.digests is None else self.digests.size,
            "sha256": None if self.digests is None else self.digests.sha256_hex,
            "blake3": None if self.digests is None else self.digests.blake3_hex,
            "recorded": {
                "size": self.recorded.size,
                "sha256": self.recorded.sha256,
                "blake3": self.recorded.blake3,
            },
        }


@dataclass(frozen=True, slots=True)
class Download:
    """An access that was logged, and the bytes it may now send."""

    content: content_repo.ContentRow
    selected: ByteRange | None
    """None: the whole content (200); else the bytes of a 206."""
    chunks: Iterator[bytes]
    seq: int


@dataclass(frozen=True, slots=True)
class Disposed:
    seq: int
    removed: bool
    retained_until: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": "exhibit.disposed",
            "removed": self.removed,
            "retained_until": self.retained_until.isoformat() if self.retained_until else None,
        }


# --- storage errors become server errors ----------------------------------------------------


def _storage(call: Callable[[], T]) -> T:
    """Run a store call; map the evidence errors a client can cause to server errors."""
    try:
        return call()
    except TooLargeError as exc:
        raise PayloadTooLargeError(
            f"the content is larger than {exc.limit} bytes", code="content_too_large"
        ) from None
    except OffsetMismatchError as exc:
        raise ConflictError(
            f"the upload holds {exc.expected} bytes, not {exc.got}", code="offset_mismatch"
        ) from None
    except UploadLockedError:
        raise ConflictError(
            "another request is writing to this upload", code="upload_locked"
        ) from None
    except UploadNotFoundError:
        raise NotFoundError("no such upload (finished, terminated or expired)") from None
    except UploadIncompleteError as exc:
        raise ConflictError(str(exc), code="upload_incomplete") from None
    except ObjectExistsError:
        raise ConflictError("the exhibit already has content", code="content_exists") from None
    except StorageUnavailableError as exc:
        log.error("evidence store unavailable: %s", exc)
        raise StorageError("the evidence store is unavailable") from None


def _key(case_id: str, exhibit_id: str) -> ExhibitKey:
    return exhibit_key(case_id, exhibit_id)


def _now() -> datetime:
    return datetime.now(UTC)


def _actor_json(actor: Actor) -> str:
    return json.dumps(actor.to_json(), sort_keys=True)


def _actor_from_json(raw: str) -> Actor:
    doc = json.loads(raw)
    return Actor(
        jurisdiction=doc["jurisdiction"], sub=doc["sub"], role=doc["role"], token=doc["token"]
    )


# --- checks shared by the steps ------------------------------------------------------------


def _exhibit(conn: Connection, case_id: str, exhibit_id: str) -> exhibit_repo.ExhibitRow:
    row = exhibit_repo.get(conn, case_id, exhibit_id)
    if row is None:
        raise NotFoundError(f"no exhibit {exhibit_id} in this case", code="exhibit_not_found")
    return row


def _check_accepts_content(conn: Connection, row: exhibit_repo.ExhibitRow) -> None:
    if row.sealed:
        # spec 6.7: no exhibit.ingested follows an exhibit.sealed
        raise ConflictError("the exhibit is sealed and accepts no content", code="exhibit_sealed")
    if content_repo.get(conn, row.id) is not None:
        # spec 6.7: at most one exhibit.ingested per exhibit; content never changes
        raise ConflictError("the exhibit already has content", code="content_exists")


def _authorize_upload(
    conn: Connection, principal: Principal, case_id: str, exhibit_id: str
) -> None:
    row = _exhibit_for(conn, principal, case_id, exhibit_id, Action.CONTENT_UPLOAD)
    _check_accepts_content(conn, row)


def _case_exists(conn: Connection, case_id: str) -> bool:
    return case_repo.get(conn, case_id) is not None


def _exhibit_for(
    conn: Connection, principal: Principal, case_id: str, exhibit_id: str, action: Action
) -> exhibit_repo.ExhibitRow:
    """Authorize `action` on the exhibit (404 for an unknown case or exhibit)."""
    if not _case_exists(conn, case_id):
        raise NotFoundError(f"no case {case_id}", code="case_not_found")
    current = standing(conn, case_id, principal)
    authorize(principal, Action.CASE_READ, current)  # a case the caller cannot see: 403
    row = exhibit_repo.get(conn, case_id, exhibit_id)
    if row is None:
        raise NotFoundError(f"no exhibit {exhibit_id} in this case", code="exhibit_not_found")
    authorize(principal, action, current, exhibit_owner=row.owner)
    return row


def _may_read(conn: Connection, principal: Principal, exhibit_id: str) -> None:
    """spec 6.7: content goes to the owner state, a state holding an unrevoked share, or
    a judge or defence lawyer holding a grant (checked by the matrix)."""
    if principal.role in GRANTABLE_ROLES:
        return
    if not share_repo.may_read_content(conn, exhibit_id, principal.jurisdiction):
        raise PermissionDeniedError(
            "the exhibit is neither owned by nor shared with your state", code="not_shared"
        )


# --- ingest ----------------------------------------------------------------------------------


MAX_WRITES_PER_EXHIBIT = 8


def _begin_write(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    meta: ContentMeta,
    *,
    kind: str,
    length: int | None,
) -> content_repo.UploadRow:
    """Steps 1: check, and record the write in progress (no custody entry)."""
    now = _now()
    row = content_repo.UploadRow(
        id=str(uuid.uuid4()),
        kind=kind,
        case_id=case_id,
        exhibit_id=exhibit_id,
        actor=_actor_json(principal.actor()),
        length=length,
        filename=meta.filename,
        media_type=meta.media_type,
        expected_sha256=meta.expected_sha256,
        created_at=now,
        expires_at=now + timedelta(seconds=ws.settings.upload_expiry),
    )
    with write_transaction(ws.engine) as conn:
        _authorize_upload(conn, principal, case_id, exhibit_id)
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


def _forget_write(ws: Workspace, upload_id: str) -> None:
    with write_transaction(ws.engine) as conn:
        content_repo.delete_upload(conn, upload_id)


def _reject(
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


def _commit_ingest(
    ws: Workspace,
    actor: Actor,
    row: content_repo.UploadRow,
    digests: Digests,
    *,
    recovered: bool = False,
) -> Ingested:
    """Step 3: the unit of work that makes the stored object the exhibit's content."""

    def work(log: CaseLog) -> Ingested:
        exhibit = _exhibit(log.conn, row.case_id, row.exhibit_id)
        _check_accepts_content(log.conn, exhibit)
        data: dict[str, object] = {
            "size": digests.size,
            "sha256": digests.sha256_hex,
            "blake3": digests.blake3_hex,
            "filename": row.filename,
            "media_type": row.media_type,
        }
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
            now=_now(),
            seq=entry.seq,
        )
        content_repo.delete_upload(log.conn, row.id)
        return Ingested(entry.seq, digests, row.filename, row.media_type)

    key = _key(row.case_id, row.exhibit_id)
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
            _forget_write(ws, row.id)
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
        _storage(lambda: ws.store.set_legal_hold(_key(case_id, exhibit_id), True))


def ingest_stream(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    meta: ContentMeta,
    chunks: Iterable[bytes],
) -> Ingested:
    """PUT …/content: stream `chunks` into the store, then log exhibit.ingested."""
    row = _begin_write(ws, principal, case_id, exhibit_id, meta, kind="put", length=None)
    key = _key(case_id, exhibit_id)
    try:
        digests = _storage(
            lambda: ws.store.put_stream(
                key,
                chunks,
                expected_sha256=meta.expected_sha256,
                max_size=ws.settings.max_upload_bytes,
            )
        )
    except DigestMismatchError as exc:
        raise _reject(ws, principal.actor(), row, exc) from None
    except BaseException:
        _forget_write(ws, row.id)  # nothing was stored
        raise
    return _commit_ingest(ws, principal.actor(), row, digests)


# --- tus uploads -------------------------------------------------------------------------------


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
    row = _begin_write(ws, principal, case_id, exhibit_id, meta, kind="tus", length=length)
    metadata = {"filename": meta.filename, "media_type": meta.media_type}
    try:
        state = _storage(
            lambda: ws.store.begin_upload(
                uuid.UUID(row.id), _key(case_id, exhibit_id), length, metadata, max_size=limit
            )
        )
    except BaseException:
        _forget_write(ws, row.id)
        raise
    if length == 0:  # nothing to PATCH: complete at once
        return UploadView(row, state, _finish_upload(ws, principal.actor(), row))
    return UploadView(row, state)


def _upload_row(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, upload_id: str
) -> content_repo.UploadRow:
    with read_transaction(ws.engine) as conn:
        _exhibit_for(conn, principal, case_id, exhibit_id, Action.CONTENT_UPLOAD)
        row = content_repo.get_upload(conn, upload_id)
    if row is None or row.kind != "tus" or row.exhibit_id != exhibit_id:
        raise NotFoundError("no such upload (finished, terminated or expired)")
    # A tus upload is its creator's: a colleague of the same state may neither append to
    # it (their bytes would become evidence under the creator's filename) nor end it.
    # (The same person, not the same token: an upload may outlive a token.)
    creator = _actor_from_json(row.actor)
    if (creator.jurisdiction, creator.sub, creator.role) != (
        principal.jurisdiction,
        principal.sub,
        principal.role,
    ):
        raise NotFoundError("no such upload (finished, terminated or expired)")
    if row.expires_at < _now():
        raise NotFoundError("the upload expired", code="upload_expired")
    return row


def upload_status(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, upload_id: str
) -> UploadView:
    row = _upload_row(ws, principal, case_id, exhibit_id, upload_id)
    state = _storage(lambda: ws.store.status(uuid.UUID(upload_id)))
    return UploadView(row, state)


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
    expires = _now() + timedelta(seconds=ws.settings.upload_expiry)
    with write_transaction(ws.engine) as conn:
        # Sealed (or filled) since the upload began: refuse before storing more bytes, so
        # no object is published that could not be logged (and, under Object Lock, not
        # removed either). The case lock re-checks at commit.
        _authorize_upload(conn, principal, case_id, exhibit_id)
        content_repo.touch_upload(conn, upload_id, expires)
    row = content_repo.UploadRow(**{**_fields(row), "expires_at": expires})
    try:
        state = _storage(lambda: ws.store.append(uuid.UUID(upload_id), offset, chunks))
    except PayloadTooLargeError:
        _forget_write(ws, upload_id)  # the store removed the upload
        raise
    if not state.complete:
        return UploadView(row, state)
    return UploadView(row, state, _finish_upload(ws, principal.actor(), row))


def _fields(row: content_repo.UploadRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in content_repo.UploadRow.__slots__}


def _finish_upload(ws: Workspace, actor: Actor, row: content_repo.UploadRow) -> Ingested:
    try:
        digests = _storage(
            lambda: ws.store.finish(uuid.UUID(row.id), expected_sha256=row.expected_sha256)
        )
    except DigestMismatchError as exc:
        raise _reject(ws, actor, row, exc) from None
    except ConflictError as exc:
        if exc.code == "content_exists":  # another upload won: this one is void
            _abort_quietly(ws, row.id)
            _forget_write(ws, row.id)
        raise
    return _commit_ingest(ws, actor, row, digests)


def _abort_quietly(ws: Workspace, upload_id: str) -> None:
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
    _storage(lambda: ws.store.abort(uuid.UUID(upload_id)))
    _forget_write(ws, upload_id)


# --- download -------------------------------------------------------------------------------


def _present_content(conn: Connection, exhibit_id: str) -> content_repo.ContentRow:
    content = content_repo.get(conn, exhibit_id)
    if content is None:
        raise NotFoundError("the exhibit has no content yet", code="no_content")
    if content.disposal_begun:
        raise NotFoundError("the exhibit's content was disposed of", code="content_disposed")
    return content


def download(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    *,
    purpose: str,
    byte_range: tuple[int | None, int | None] | None,
    if_range: str | None = None,
) -> Download:
    """GET …/content: check, open the bytes, log exhibit.accessed; then they may be sent.

    A refusal (403, 404, 416) is not an access and is not logged in the custody log."""
    with read_transaction(ws.engine) as conn:
        _exhibit_for(conn, principal, case_id, exhibit_id, Action.CONTENT_READ)
        _may_read(conn, principal, exhibit_id)
        content = _present_content(conn, exhibit_id)
    if if_range is not None and if_range.strip() != f'"{content.sha256}"':
        byte_range = None  # RFC 9110 13.1.5: not the representation the client holds
    selected: ByteRange | None = None
    if byte_range is not None:
        try:
            selected = resolve_range(content.size, *byte_range)
        except StoreRangeError:
            raise RangeNotSatisfiableError(
                f"the content has {content.size} bytes", size=content.size
            ) from None
        if selected.first == 0 and selected.last == content.size - 1:
            selected = None  # the whole content after all
    key = _key(case_id, exhibit_id)
    first, last = (None, None) if selected is None else (selected.first, selected.last)
    try:
        chunks = _storage(lambda: ws.store.open_range(key, first, last))
    except ObjectNotFoundError:
        log.error("content of exhibit %s is missing from the store", exhibit_id)
        raise StorageError("the exhibit's content is missing from the store") from None

    def work(log: CaseLog) -> int:
        current = locked_standing(log, principal)
        row = _exhibit(log.conn, case_id, exhibit_id)
        authorize(principal, Action.CONTENT_READ, current, exhibit_owner=row.owner)
        _may_read(log.conn, principal, exhibit_id)  # a share revoked meanwhile counts
        _present_content(log.conn, exhibit_id)
        entry = log.append(
            principal.actor(),
            "exhibit.accessed",
            exhibit=exhibit_id,
            data={
                "purpose": purpose,
                "range": None if selected is None else [selected.first, selected.last],
            },
        )
        return entry.seq

    try:
        seq = ws.committer.run(case_id, work)
    except BaseException:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        raise
    return Download(content, selected, chunks, seq)


# --- re-verification ----------------------------------------------------------------------------


def _rehash(ws: Workspace, key: ExhibitKey) -> Digests | None:
    try:
        return _storage(lambda: ws.store.rehash(key))
    except ObjectNotFoundError:
        return None


def _log_verified(
    ws: Workspace, actor: Actor, content: content_repo.ContentRow, digests: Digests | None
) -> Verified:
    ok = (
        digests is not None
        and digests.size == content.size
        and digests.sha256_hex == content.sha256
        and digests.blake3_hex == content.blake3
    )
    found = digests or hash_chunks([])

    def work(log: CaseLog) -> int:
        data: dict[str, object] = {
            "ok": ok,
            "sha256": found.sha256_hex,
            "blake3": found.blake3_hex,
            "size": found.size,
        }
        if digests is None:
            data["missing"] = True  # the store holds no object: hashes are of no bytes
        entry = log.append(actor, "exhibit.verified", exhibit=content.exhibit_id, data=data)
        return entry.seq

    seq = ws.committer.run(content.case_id, work)
    if not ok:
        log.error(
            "STORAGE ALTERED: exhibit %s of case %s no longer has its ingested hashes",
            content.exhibit_id,
            content.case_id,
        )
    return Verified(seq, ok, digests, content)


def verify(ws: Workspace, principal: Principal, case_id: str, exhibit_id: str) -> Verified:
    """POST …/verify: re-read the object, recompute both hashes, log exhibit.verified."""
    with read_transaction(ws.engine) as conn:
        _exhibit_for(conn, principal, case_id, exhibit_id, Action.CONTENT_VERIFY)
        content = _present_content(conn, exhibit_id)
    with _verifying(ws, exhibit_id):
        digests = _rehash(ws, _key(case_id, exhibit_id))
    return _log_verified(ws, principal.actor(), content, digests)


VERIFY_RETRY_AFTER: Final = 10


@contextlib.contextmanager
def _verifying(ws: Workspace, exhibit_id: str) -> Iterator[None]:
    """A re-read of `exhibit_id`: one per exhibit (409), JITC_MAX_CONCURRENT_VERIFIES in
    all (503), so repeated requests cannot keep the store busy re-reading GiBs."""
    gate = ws.verify_gate
    with gate.lock:
        if exhibit_id in gate.running:
            raise ConflictError(
                "this exhibit is being re-verified; its exhibit.verified entry follows",
                code="verification_in_progress",
            )
        if len(gate.running) >= gate.limit:
            raise BusyError(
                f"{gate.limit} re-verification(s) are running on this server; retry shortly",
                retry_after=VERIFY_RETRY_AFTER,
                code="verifications_busy",
            )
        gate.running.add(exhibit_id)
    try:
        yield
    finally:
        with gate.lock:
            gate.running.discard(exhibit_id)


@dataclass
class ScrubReport:
    checked: int = 0
    ok: int = 0
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    holds_fixed: int = 0
    """Objects whose legal hold differed from the exhibit's, and were set to match it."""


def scrub(ws: Workspace, *, progress: Callable[[Verified], None] | None = None) -> ScrubReport:
    """`jitc scrub`: re-verify every stored exhibit as the system, log each result."""
    report = ScrubReport()
    with read_transaction(ws.engine) as conn:
        contents = [c for c in content_repo.all_present(conn) if not c.disposed]
    for content in contents:
        key = _key(content.case_id, content.exhibit_id)
        digests = _rehash(ws, key)
        result = _log_verified(ws, SYSTEM_ACTOR, content, digests)
        report.checked += 1
        if result.ok:
            report.ok += 1
        elif digests is None:
            report.missing.append(f"{content.case_id}/{content.exhibit_id}")
        else:
            report.altered.append(f"{content.case_id}/{content.exhibit_id}")
        if digests is not None and _resync_hold(ws, content):
            report.holds_fixed += 1
        if progress is not None:
            progress(result)
    return report


def _resync_hold(ws: Workspace, content: content_repo.ContentRow) -> bool:
    """Give the object the exhibit's legal hold if a failed store call left them apart."""
    with read_transaction(ws.engine) as conn:
        exhibit = exhibit_repo.get(conn, content.case_id, content.exhibit_id)
    if exhibit is None:
        return False
    key = _key(content.case_id, content.exhibit_id)
    if _storage(lambda: ws.store.legal_hold(key)) == exhibit.legal_hold:
        return False
    log.warning("legal hold of %s differed from its exhibit's: set to %s", key, exhibit.legal_hold)
    _storage(lambda: ws.store.set_legal_hold(key, exhibit.legal_hold))
    return True


# --- legal hold and disposal ----------------------------------------------------------------------


def sync_store_hold(ws: Workspace, case_id: str, exhibit_id: str, *, on: bool) -> None:
    """Mirror the exhibit's legal hold onto its stored object, when there is one.

    Called after the hold entry committed: the database flag is what disposal checks. A
    store that fails here is logged, and `jitc scrub` sets the object's hold to match."""
    with read_transaction(ws.engine) as conn:
        content = content_repo.get(conn, exhibit_id)
    if content is None or content.removed or content.case_id != case_id:
        return
    try:
        _storage(lambda: ws.store.set_legal_hold(_key(case_id, exhibit_id), on))
    except ObjectNotFoundError:
        log.error("content of exhibit %s is missing from the store", exhibit_id)
    except StorageError:
        log.error("legal hold of exhibit %s not mirrored on its object yet", exhibit_id)


def dispose(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    *,
    reason: str,
    authority: str,
) -> Disposed:
    """POST …/dispose: only without legal hold; remove the content or record that Object
    Lock retention still keeps it; log exhibit.disposed. Nothing may follow it (spec 6.7)."""
    with read_transaction(ws.engine) as conn:
        exhibit = _exhibit_for(conn, principal, case_id, exhibit_id, Action.EXHIBIT_DISPOSE)
        _content_to_dispose(conn, exhibit_id)
    if exhibit.legal_hold:
        raise ConflictError("the exhibit is under legal hold", code="hold_active")

    # Phase 1, under the case lock: re-check the hold and fence the exhibit. A hold that
    # committed before this is seen here; one that comes after sees the fence and is
    # refused (is_disposed). Only then may bytes be destroyed.
    def begin(log: CaseLog) -> None:
        current = locked_standing(log, principal)
        row = _exhibit(log.conn, case_id, exhibit_id)
        authorize(principal, Action.EXHIBIT_DISPOSE, current, exhibit_owner=row.owner)
        if row.legal_hold:
            raise ConflictError("the exhibit is under legal hold", code="hold_active")
        _content_to_dispose(log.conn, exhibit_id)
        content_repo.begin_disposal(log.conn, exhibit_id, now=_now())

    ws.committer.run(case_id, begin)

    # Phase 2: the store. A crash here leaves the fence without an entry; disposing again
    # completes it (the object may already be gone, which counts as removed).
    key = _key(case_id, exhibit_id)

    def lift_fence(log: CaseLog) -> None:
        content_repo.end_disposal_attempt(log.conn, exhibit_id)

    try:
        result = _storage(lambda: ws.store.dispose(key))
    except LegalHoldActiveError:
        # Nothing was removed: lift the fence, or holds and reads would stay refused
        # while the log says nothing was disposed.
        ws.committer.run(case_id, lift_fence)
        raise ConflictError("the stored object is under legal hold", code="hold_active") from None
    except ObjectNotFoundError:
        log.warning("content of exhibit %s was already gone at disposal", exhibit_id)
        result = None

    removed = result is None or result.removed
    until = None if result is None else result.retained_until

    # Phase 3: log exhibit.disposed with what the store did.
    def work(log: CaseLog) -> Disposed:
        current = locked_standing(log, principal)
        row = _exhibit(log.conn, case_id, exhibit_id)
        authorize(principal, Action.EXHIBIT_DISPOSE, current, exhibit_owner=row.owner)
        _content_to_dispose(log.conn, exhibit_id)
        entry = log.append(
            principal.actor(),
            "exhibit.disposed",
            exhibit=exhibit_id,
            data={
                "reason": reason,
                "authority": authority,
                "removed": removed,
                "retained_until": until.isoformat() if until else None,
            },
        )
        content_repo.mark_disposed(
            log.conn, exhibit_id, now=_now(), seq=entry.seq, removed=removed, retained_until=until
        )
        return Disposed(entry.seq, removed, until)

    return ws.committer.run(case_id, work)


def _content_to_dispose(conn: Connection, exhibit_id: str) -> content_repo.ContentRow:
    """Content that may be disposed of: present, and exhibit.disposed not logged yet (a
    begun but unfinished disposal may be completed)."""
    content = content_repo.get(conn, exhibit_id)
    if content is None:
        raise NotFoundError("the exhibit has no content yet", code="no_content")
    if content.disposed:
        raise NotFoundError("the exhibit's content was disposed of", code="content_disposed")
    return content


def is_disposed(conn: Connection, exhibit_id: str) -> bool:
    """For other services: no event may follow exhibit.disposed (spec 6.7), nor a hold or
    share slip in while a disposal is under way."""
    content = content_repo.get(conn, exhibit_id)
    return content is not None and content.disposal_begun


# --- recovery and expiry ------------------------------------------------------------------------


@dataclass
class SweepReport:
    expired: int = 0
    recovered: int = 0
    orphans: int = 0
    forgotten: int = 0


def sweep(ws: Workspace, *, now: datetime | None = None, grace: float | None = None) -> SweepReport:
    """Expire idle uploads and finish or clean up writes a crash interrupted (ADR 0012).

    Safe to run on several servers at once: every decision is re-checked under the case
    lock, and the store refuses to overwrite or to remove an upload being written."""
    now = now or _now()
    grace = ws.settings.recovery_grace if grace is None else grace
    report = SweepReport()
    cutoff = now - timedelta(seconds=ws.settings.upload_expiry)
    expired_ids = _storage(lambda: ws.store.expire(cutoff))
    with write_transaction(ws.engine) as conn:
        content_repo.delete_uploads(conn, [str(u) for u in expired_ids])
    report.expired = len(expired_ids)
    with read_transaction(ws.engine) as conn:
        rows = content_repo.uploads_created_before(conn, now - timedelta(seconds=grace))
    for row in rows:
        try:
            _sweep_one(ws, row, now, report)
        except StorageError:
            continue  # try again at the next sweep
    return report


def _sweep_one(
    ws: Workspace, row: content_repo.UploadRow, now: datetime, report: SweepReport
) -> None:
    key = _key(row.case_id, row.exhibit_id)
    with read_transaction(ws.engine) as conn:
        content = content_repo.get(conn, row.exhibit_id)
    if content is not None:  # committed by another write; this one is void
        if row.kind == "tus":
            _abort_quietly(ws, row.id)
        _forget_write(ws, row.id)
        report.forgotten += 1
        return
    if _storage(lambda: ws.store.exists(key)):
        _recover(ws, row, key, report)
        return
    if row.kind == "tus":
        try:
            _storage(lambda: ws.store.status(uuid.UUID(row.id)))
            alive = row.expires_at >= now
        except NotFoundError:
            alive = False
        if not alive:
            _abort_quietly(ws, row.id)
            _forget_write(ws, row.id)
            report.forgotten += 1
    elif row.expires_at < now:  # a PUT that died with its process
        _forget_write(ws, row.id)
        report.forgotten += 1


def _recover(
    ws: Workspace, row: content_repo.UploadRow, key: ExhibitKey, report: SweepReport
) -> None:
    """The object was created but its ingest never committed: complete it, as the uploader,
    from a re-read of the stored bytes, or remove the object if the exhibit refuses it."""
    digests = _rehash(ws, key)
    if digests is None:
        return
    if row.expected_sha256 is not None and digests.sha256_hex != row.expected_sha256:
        log.error("object %s does not have its declared SHA-256: left for inspection", key)
        report.orphans += 1
        return
    try:
        _commit_ingest(ws, _actor_from_json(row.actor), row, digests, recovered=True)
    except ConflictError:
        report.orphans += 1  # _commit_ingest removed the object, or logged that it cannot
        return
    report.recovered += 1


def exhibit_content(ws: Workspace, exhibit_ids: list[str]) -> dict[str, content_repo.ContentRow]:
    with read_transaction(ws.engine) as conn:
        return content_repo.of_exhibits(conn, exhibit_ids)
