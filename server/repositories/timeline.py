"""Reads of a case's custody log by its columns, for people reading it page by page.

`log_entries` keeps each entry's `type`, `exhibit_id` and actor's state beside its
canonical bytes, so a filtered, newest-first page is one indexed query, never a replay of
the whole log (migration 0006: indexes on (case_id, type | exhibit_id |
actor_jurisdiction, seq))."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, func, select

from server.models import Exhibit, LogEntry, table

_E = table(LogEntry)
_X = table(Exhibit)


@dataclass(frozen=True, slots=True)
class Filter:
    types: tuple[str, ...] = ()
    exhibit: str | None = None
    jurisdiction: str | None = None
    visible: frozenset[str] | None = None
    """When set, only the case-level entries and those of these exhibits (a defence
    lawyer's disclosure, `server.services.rules.disclosed`)."""


def _where(query: Select[Any], case_id: str, f: Filter) -> Select[Any]:
    query = query.where(_E.c.case_id == case_id)
    if len(f.types) == 1:
        query = query.where(_E.c.type == f.types[0])
    elif f.types:
        query = query.where(_E.c.type.in_(f.types))
    if f.exhibit is not None:
        query = query.where(_E.c.exhibit_id == f.exhibit)
    if f.jurisdiction is not None:
        query = query.where(_E.c.actor_jurisdiction == f.jurisdiction)
    if f.visible is not None:
        query = query.where(_E.c.exhibit_id.is_(None) | _E.c.exhibit_id.in_(sorted(f.visible)))
    return query


def count(conn: Connection, case_id: str, f: Filter, *, cap: int) -> int:
    """How many entries match, counted up to `cap` + 1 (a count past it says only "more"):
    counting every match of a filter most entries pass would read the whole case."""
    matching = _where(select(_E.c.seq), case_id, f).limit(cap + 1).subquery()
    return int(conn.execute(select(func.count()).select_from(matching)).scalar_one())


def newest(conn: Connection, case_id: str, f: Filter, *, offset: int, limit: int) -> list[bytes]:
    """Canonical bytes of the matching entries, newest first, `offset` of them skipped."""
    query = _where(select(_E.c.canonical), case_id, f)
    query = query.order_by(_E.c.seq.desc()).offset(offset).limit(limit)
    return [bytes(row) for row in conn.execute(query).scalars()]


def holds(conn: Connection, case_id: str, exhibit_id: str, types: Sequence[str]) -> list[bytes]:
    """The exhibit's entries of `types` (its legal holds), oldest first. Found through the
    type index: these are rare, while a busy exhibit has tens of thousands of entries, so
    the exhibit's column is compared as an expression the planner cannot take an index for
    (either database would otherwise pick the exhibit's index as readily)."""
    query = (
        select(_E.c.canonical).where(
            _E.c.case_id == case_id,
            _E.c.type.in_(list(types)),
            func.coalesce(_E.c.exhibit_id, "") == exhibit_id,
        )
        # No ORDER BY: SQLite would take the primary key's order (case_id, seq) over the
        # type index and read the whole case. The few rows are put in order here.
    )
    rows = conn.execute(query.add_columns(_E.c.seq)).all()
    return [bytes(row[0]) for row in sorted(rows, key=lambda row: int(row[1]))]


def types(conn: Connection, case_id: str, visible: frozenset[str] | None = None) -> list[str]:
    """The entry types the case's log holds (of the entries `visible` allows, as in
    `Filter`). One index seek per type (a loose index scan on (case_id, type, seq)):
    DISTINCT would read every entry of the case."""
    found: list[str] = []
    while True:
        query = _where(select(func.min(_E.c.type)), case_id, Filter(visible=visible))
        if found:
            query = query.where(_E.c.type > found[-1])
        following = conn.execute(query).scalar_one_or_none()
        if following is None:
            return found
        found.append(str(following))


def labels(conn: Connection, case_id: str, exhibit_ids: Sequence[str] | None) -> dict[str, str]:
    """Exhibit labels of the case (of `exhibit_ids` only, when given)."""
    query = select(_X.c.id, _X.c.label).where(_X.c.case_id == case_id)
    if exhibit_ids is not None:
        if not exhibit_ids:
            return {}
        query = query.where(_X.c.id.in_(list(exhibit_ids)))
    return {str(row.id): str(row.label) for row in conn.execute(query)}
