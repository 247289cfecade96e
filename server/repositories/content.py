"""Exhibit content rows (what exhibit.ingested recorded) and content writes in progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from server.models import ContentUpload, ExhibitContent, table

_C = CONTENTS = table(ExhibitContent)
_U = UPLOADS = table(ContentUpload)


@dataclass(frozen=True, slots=True)
class ContentRow:
    exhibit_id: str
    case_id: str
    size: int
    sha256: str
    blake3: str
    filename: str
    media_type: str
    ingested_at: datetime
    ingested_seq: int
    disposed_at: datetime | None
    disposed_seq: int | None
    removed: bool
    retained_until: datetime | None

    @property
    def disposed(self) -> bool:
        """exhibit.disposed is logged."""
        return self.disposed_seq is not None

    @property
    def disposal_begun(self) -> bool:
        """Disposal was decided under the case lock (a fence against a later hold); the
        object may already be gone even if exhibit.disposed is not logged yet."""
        return self.disposed_at is not None


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: str
    kind: str
    case_id: str
    exhibit_id: str
    actor: str
    length: int | None
    filename: str
    media_type: str
    expected_sha256: str | None
    created_at: datetime
    expires_at: datetime
    metadata_header: str | None = None


def _aware(values: Any) -> dict[str, Any]:
    """Row values with UTC times (SQLite returns them without their zone)."""
    out = dict(values)
    for name, value in out.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            out[name] = value.replace(tzinfo=UTC)
    return out


_CONTENT_COLUMNS = tuple(_C.c[name] for name in ContentRow.__slots__)
_UPLOAD_COLUMNS = tuple(_U.c[name] for name in UploadRow.__slots__)


def get(conn: Connection, exhibit_id: str) -> ContentRow | None:
    row = conn.execute(select(*_CONTENT_COLUMNS).where(_C.c.exhibit_id == exhibit_id)).one_or_none()
    return None if row is None else ContentRow(**_aware(row._mapping))


def of_exhibits(conn: Connection, exhibit_ids: Sequence[str]) -> dict[str, ContentRow]:
    if not exhibit_ids:
        return {}
    rows = conn.execute(select(*_CONTENT_COLUMNS).where(_C.c.exhibit_id.in_(exhibit_ids)))
    return {row.exhibit_id: ContentRow(**_aware(row._mapping)) for row in rows}


def all_present(conn: Connection) -> list[ContentRow]:
    """Every content row not yet removed by disposal, oldest first (the scrub's work list)."""
    query = select(*_CONTENT_COLUMNS).where(_C.c.removed.is_(False)).order_by(_C.c.ingested_at)
    return [ContentRow(**_aware(row._mapping)) for row in conn.execute(query)]


def insert_content(
    conn: Connection,
    *,
    exhibit_id: str,
    case_id: str,
    size: int,
    sha256: str,
    blake3: str,
    filename: str,
    media_type: str,
    now: datetime,
    seq: int,
) -> None:
    conn.execute(
        insert(_C).values(
            exhibit_id=exhibit_id,
            case_id=case_id,
            size=size,
            sha256=sha256,
            blake3=blake3,
            filename=filename,
            media_type=media_type,
            ingested_at=now,
            ingested_seq=seq,
            disposed_at=None,
            disposed_seq=None,
            removed=False,
            retained_until=None,
        )
    )


def begin_disposal(conn: Connection, exhibit_id: str, *, now: datetime) -> None:
    conn.execute(
        update(_C)
        .where(_C.c.exhibit_id == exhibit_id, _C.c.disposed_at.is_(None))
        .values(disposed_at=now)
    )


def end_disposal_attempt(conn: Connection, exhibit_id: str) -> None:
    """Lift the fence of a disposal that removed nothing (its store step was refused)."""
    conn.execute(
        update(_C)
        .where(_C.c.exhibit_id == exhibit_id, _C.c.disposed_seq.is_(None))
        .values(disposed_at=None)
    )


def mark_disposed(
    conn: Connection,
    exhibit_id: str,
    *,
    now: datetime,
    seq: int,
    removed: bool,
    retained_until: datetime | None,
) -> None:
    conn.execute(
        update(_C)
        .where(_C.c.exhibit_id == exhibit_id)
        .values(disposed_at=now, disposed_seq=seq, removed=removed, retained_until=retained_until)
    )


# --- content writes in progress ---------------------------------------------------------


def insert_upload(conn: Connection, row: UploadRow) -> None:
    conn.execute(insert(_U).values(**{name: getattr(row, name) for name in UploadRow.__slots__}))


def count_writes(conn: Connection, exhibit_id: str) -> int:
    """Content writes in progress (PUTs and tus uploads) for one exhibit."""
    query = select(func.count()).select_from(_U).where(_U.c.exhibit_id == exhibit_id)
    return int(conn.execute(query).scalar_one())


def exhibits_with_writes(conn: Connection, exhibit_ids: Sequence[str]) -> set[str]:
    """Which of `exhibit_ids` have a content write in progress (one query)."""
    if not exhibit_ids:
        return set()
    query = select(_U.c.exhibit_id).where(_U.c.exhibit_id.in_(list(exhibit_ids))).distinct()
    return {str(x) for x in conn.execute(query).scalars()}


def uploads_of_exhibit(conn: Connection, exhibit_id: str) -> list[UploadRow]:
    """The exhibit's writes in progress, oldest first."""
    query = (
        select(*_UPLOAD_COLUMNS)
        .where(_U.c.exhibit_id == exhibit_id)
        .order_by(_U.c.created_at, _U.c.id)
    )
    return [UploadRow(**_aware(row._mapping)) for row in conn.execute(query)]


def get_upload(conn: Connection, upload_id: str) -> UploadRow | None:
    row = conn.execute(select(*_UPLOAD_COLUMNS).where(_U.c.id == upload_id)).one_or_none()
    return None if row is None else UploadRow(**_aware(row._mapping))


def delete_upload(conn: Connection, upload_id: str) -> None:
    conn.execute(delete(_U).where(_U.c.id == upload_id))


def delete_uploads(conn: Connection, upload_ids: Sequence[str]) -> None:
    if upload_ids:
        conn.execute(delete(_U).where(_U.c.id.in_(upload_ids)))


def touch_upload(conn: Connection, upload_id: str, expires_at: datetime) -> None:
    conn.execute(update(_U).where(_U.c.id == upload_id).values(expires_at=expires_at))


def uploads_created_before(conn: Connection, before: datetime) -> list[UploadRow]:
    query = select(*_UPLOAD_COLUMNS).where(_U.c.created_at < before).order_by(_U.c.created_at)
    return [UploadRow(**_aware(row._mapping)) for row in conn.execute(query)]


def uploads_expired(conn: Connection, now: datetime) -> list[UploadRow]:
    query = select(*_UPLOAD_COLUMNS).where(_U.c.expires_at < now)
    return [UploadRow(**_aware(row._mapping)) for row in conn.execute(query)]
