"""Exhibits (metadata), their holds, and notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, insert, or_, select, update

from server.models import Exhibit, ExhibitHold, Note, table
from server.repositories.bulk import Row, insert_rows, update_rows

_E = EXHIBITS = table(Exhibit)
_N = table(Note)
_H = table(ExhibitHold)


@dataclass(frozen=True, slots=True)
class ExhibitRow:
    id: str
    case_id: str
    label: str
    description: str
    owner: str
    acquisition: str
    sealed: bool
    legal_hold: bool
    created_at: datetime
    last_leaf: bytes | None


_COLUMNS = (
    _E.c.id,
    _E.c.case_id,
    _E.c.label,
    _E.c.description,
    _E.c.owner,
    _E.c.acquisition,
    _E.c.sealed,
    _E.c.legal_hold,
    _E.c.created_at,
    _E.c.last_leaf,
)


def new_exhibit_row(
    *,
    exhibit_id: str,
    case_id: str,
    label: str,
    description: str,
    owner: str,
    acquisition: str,
    now: datetime,
    last_leaf: bytes | None,
) -> Row:
    """The row of a newly registered exhibit, to insert now or with its batch."""
    return Row(
        _E,
        {
            "id": exhibit_id,
            "case_id": case_id,
            "label": label,
            "description": description,
            "owner": owner,
            "acquisition": acquisition,
            "sealed": False,
            "legal_hold": False,
            "created_at": now,
            "last_leaf": last_leaf,
        },
    )


def insert_now(conn: Connection, row: Row) -> None:
    insert_rows(conn, row.table, [row.values])


def get(conn: Connection, case_id: str, exhibit_id: str) -> ExhibitRow | None:
    query = select(*_COLUMNS).where(_E.c.id == exhibit_id, _E.c.case_id == case_id)
    row = conn.execute(query).one_or_none()
    return None if row is None else ExhibitRow(**row._mapping)


def owners(conn: Connection, case_id: str, exhibit_ids: Sequence[str] | None) -> dict[str, str]:
    """Each exhibit's owner state: of these exhibits of the case, or of all of them."""
    query = select(_E.c.id, _E.c.owner).where(_E.c.case_id == case_id)
    if exhibit_ids is not None:
        query = query.where(_E.c.id.in_(list(exhibit_ids)))
    return {row.id: row.owner for row in conn.execute(query)}


def page(
    conn: Connection, case_id: str, *, after: tuple[datetime, str] | None, limit: int
) -> list[ExhibitRow]:
    query = select(*_COLUMNS).where(_E.c.case_id == case_id)
    if after is not None:
        created, exhibit_id = after
        query = query.where(
            or_(
                _E.c.created_at > created,
                and_(_E.c.created_at == created, _E.c.id > exhibit_id),
            )
        )
    query = query.order_by(_E.c.created_at, _E.c.id).limit(limit)
    return [ExhibitRow(**row._mapping) for row in conn.execute(query)]


def set_flags(
    conn: Connection, exhibit_id: str, *, sealed: bool | None = None, hold: bool | None = None
) -> None:
    values: dict[str, bool] = {}
    if sealed is not None:
        values["sealed"] = sealed
    if hold is not None:
        values["legal_hold"] = hold
    conn.execute(update(_E).where(_E.c.id == exhibit_id).values(**values))


def last_leaf(conn: Connection, exhibit_id: str) -> bytes | None:
    query = select(_E.c.last_leaf).where(_E.c.id == exhibit_id)
    return conn.execute(query).scalar_one_or_none()


def set_last_leaves(conn: Connection, leaves: Sequence[tuple[str, bytes]]) -> None:
    """Move each exhibit's chain head (spec 2 exhibit_prev) to its newest entry."""
    update_rows(conn, _E, "id", [{"id": eid, "last_leaf": leaf} for eid, leaf in leaves])


def new_note_row(
    *,
    note_id: str,
    case_id: str,
    exhibit_id: str | None,
    text: str,
    commitment: str,
    salt: str,
    seq: int,
    now: datetime,
) -> Row:
    return Row(
        _N,
        {
            "id": note_id,
            "case_id": case_id,
            "exhibit_id": exhibit_id,
            "text": text,
            "commitment": commitment,
            "salt": salt,
            "seq": seq,
            "created_at": now,
        },
    )


@dataclass(frozen=True, slots=True)
class NoteRow:
    id: str
    exhibit_id: str | None
    text: str
    commitment: str
    salt: str | None
    seq: int
    created_at: datetime


def notes_page(
    conn: Connection, case_id: str, *, after_seq: int | None, limit: int
) -> list[NoteRow]:
    query = select(
        _N.c.id, _N.c.exhibit_id, _N.c.text, _N.c.commitment, _N.c.salt, _N.c.seq, _N.c.created_at
    ).where(_N.c.case_id == case_id)
    if after_seq is not None:
        query = query.where(_N.c.seq > after_seq)
    query = query.order_by(_N.c.seq).limit(limit)
    return [NoteRow(*row) for row in conn.execute(query)]


# --- holds (spec 2.1 exhibit.hold_set / exhibit.hold_released) ----------------------------


@dataclass(frozen=True, slots=True)
class HoldRow:
    exhibit_id: str
    seq: int
    jurisdiction: str
    role: str
    sub: str
    reason: str
    authority: str
    set_at: datetime
    released_seq: int | None
    released_at: datetime | None


_HOLD_COLUMNS = (
    _H.c.exhibit_id,
    _H.c.seq,
    _H.c.jurisdiction,
    _H.c.role,
    _H.c.sub,
    _H.c.reason,
    _H.c.authority,
    _H.c.set_at,
    _H.c.released_seq,
    _H.c.released_at,
)


def insert_hold(conn: Connection, case_id: str, hold: HoldRow) -> None:
    values = {column.name: getattr(hold, column.name) for column in _HOLD_COLUMNS}
    conn.execute(insert(_H).values(case_id=case_id, **values))


def holds_of(
    conn: Connection, exhibit_ids: Sequence[str], *, open_only: bool = True
) -> dict[str, list[HoldRow]]:
    """The holds of these exhibits (only the open ones unless told), oldest first."""
    if not exhibit_ids:
        return {}
    query = select(*_HOLD_COLUMNS).where(_H.c.exhibit_id.in_(list(exhibit_ids)))
    if open_only:
        query = query.where(_H.c.released_seq.is_(None))
    found: dict[str, list[HoldRow]] = {}
    for row in conn.execute(query.order_by(_H.c.exhibit_id, _H.c.seq)):
        hold = HoldRow(**row._mapping)
        found.setdefault(hold.exhibit_id, []).append(hold)
    return found


def open_holds(conn: Connection, exhibit_id: str) -> list[HoldRow]:
    return holds_of(conn, [exhibit_id]).get(exhibit_id, [])


def release_hold(
    conn: Connection, exhibit_id: str, seq: int, *, released_seq: int, now: datetime
) -> None:
    conn.execute(
        update(_H)
        .where(_H.c.exhibit_id == exhibit_id, _H.c.seq == seq)
        .values(released_seq=released_seq, released_at=now)
    )
