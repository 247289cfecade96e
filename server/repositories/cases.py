"""Cases, their parties and court/defence access grants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, delete, exists, insert, or_, select

from server.models import Case, CaseGrant, CaseParty, table

_C = table(Case)
_P = table(CaseParty)
_G = table(CaseGrant)


@dataclass(frozen=True, slots=True)
class CaseRow:
    id: str
    title: str
    agreement: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Grant:
    jurisdiction: str
    sub: str
    role: str


def insert_case(
    conn: Connection, *, case_id: str, title: str, agreement: str, now: datetime, by: str
) -> None:
    conn.execute(
        insert(_C).values(
            id=case_id, title=title, agreement=agreement, created_at=now, created_by=by
        )
    )


def get(conn: Connection, case_id: str) -> CaseRow | None:
    row = conn.execute(
        select(_C.c.id, _C.c.title, _C.c.agreement, _C.c.created_at, _C.c.created_by).where(
            _C.c.id == case_id
        )
    ).one_or_none()
    return None if row is None else CaseRow(*row)


def parties(conn: Connection, case_id: str) -> list[str]:
    query = select(_P.c.jurisdiction).where(_P.c.case_id == case_id).order_by(_P.c.jurisdiction)
    return list(conn.execute(query).scalars())


def parties_of(conn: Connection, case_ids: Sequence[str]) -> dict[str, frozenset[str]]:
    """The parties of several cases in one query (cases without parties are absent)."""
    query = select(_P.c.case_id, _P.c.jurisdiction).where(_P.c.case_id.in_(case_ids))
    found: dict[str, set[str]] = {}
    for case_id, code in conn.execute(query):
        found.setdefault(case_id, set()).add(code)
    return {case_id: frozenset(codes) for case_id, codes in found.items()}


def add_parties(conn: Connection, case_id: str, codes: list[str]) -> None:
    conn.execute(insert(_P), [{"case_id": case_id, "jurisdiction": code} for code in codes])


def remove_party(conn: Connection, case_id: str, code: str) -> None:
    conn.execute(delete(_P).where(_P.c.case_id == case_id, _P.c.jurisdiction == code))


def grants(conn: Connection, case_id: str) -> list[Grant]:
    query = (
        select(_G.c.jurisdiction, _G.c.sub, _G.c.role)
        .where(_G.c.case_id == case_id)
        .order_by(_G.c.jurisdiction, _G.c.sub, _G.c.role)
    )
    return [Grant(*row) for row in conn.execute(query)]


def has_grant(conn: Connection, case_id: str, grant: Grant) -> bool:
    query = select(_G.c.case_id).where(
        _G.c.case_id == case_id,
        _G.c.jurisdiction == grant.jurisdiction,
        _G.c.sub == grant.sub,
        _G.c.role == grant.role,
    )
    return conn.execute(query).first() is not None


def add_grant(conn: Connection, case_id: str, grant: Grant) -> None:
    conn.execute(
        insert(_G).values(
            case_id=case_id, jurisdiction=grant.jurisdiction, sub=grant.sub, role=grant.role
        )
    )


def remove_grant(conn: Connection, case_id: str, grant: Grant) -> None:
    conn.execute(
        delete(_G).where(
            _G.c.case_id == case_id,
            _G.c.jurisdiction == grant.jurisdiction,
            _G.c.sub == grant.sub,
            _G.c.role == grant.role,
        )
    )


def visible_page(
    conn: Connection,
    *,
    jurisdiction: str,
    grant: Grant,
    party_visible: bool,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[CaseRow]:
    """Cases the actor may see, oldest first, keyset-paginated on (created_at, id)."""
    by_grant = exists().where(
        _G.c.case_id == _C.c.id,
        _G.c.jurisdiction == grant.jurisdiction,
        _G.c.sub == grant.sub,
        _G.c.role == grant.role,
    )
    conditions = [by_grant]
    if party_visible:
        by_party = exists().where(_P.c.case_id == _C.c.id, _P.c.jurisdiction == jurisdiction)
        conditions.append(by_party)
    query = select(_C.c.id, _C.c.title, _C.c.agreement, _C.c.created_at, _C.c.created_by).where(
        or_(*conditions)
    )
    if after is not None:
        created, case_id = after
        query = query.where(
            or_(_C.c.created_at > created, and_(_C.c.created_at == created, _C.c.id > case_id))
        )
    query = query.order_by(_C.c.created_at, _C.c.id).limit(limit)
    return [CaseRow(*row) for row in conn.execute(query)]
