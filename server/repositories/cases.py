"""Cases, their parties, party proposals and court/defence access grants."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, exists, insert, or_, select, update

from server.models import Case, CaseGrant, CaseParty, PartyProposal, table

_C = table(Case)
_P = table(CaseParty)
_G = table(CaseGrant)
_PP = table(PartyProposal)


@dataclass(frozen=True, slots=True)
class CaseRow:
    id: str
    title: str
    agreement: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Grant:
    """Whom a grant names (jurisdiction, sub, role) and what it discloses: the exhibit ids
    it lists, or None for every exhibit the granting state may read."""

    jurisdiction: str
    sub: str
    role: str
    exhibits: tuple[str, ...] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.jurisdiction, self.sub, self.role)


def _grant(jurisdiction: str, sub: str, role: str, exhibits: str | None) -> Grant:
    listed = None if exhibits is None else tuple(str(x) for x in json.loads(exhibits))
    return Grant(jurisdiction, sub, role, listed)


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


_GRANT_COLUMNS = (_G.c.jurisdiction, _G.c.sub, _G.c.role, _G.c.exhibits)


def grants(conn: Connection, case_id: str, *, jurisdiction: str | None = None) -> list[Grant]:
    """The case's grants (only those given by `jurisdiction`, if named)."""
    query = select(*_GRANT_COLUMNS).where(_G.c.case_id == case_id)
    if jurisdiction is not None:
        query = query.where(_G.c.jurisdiction == jurisdiction)
    query = query.order_by(_G.c.jurisdiction, _G.c.sub, _G.c.role)
    return [_grant(*row) for row in conn.execute(query)]


def get_grant(conn: Connection, case_id: str, key: tuple[str, str, str]) -> Grant | None:
    jurisdiction, sub, role = key
    query = select(*_GRANT_COLUMNS).where(
        _G.c.case_id == case_id,
        _G.c.jurisdiction == jurisdiction,
        _G.c.sub == sub,
        _G.c.role == role,
    )
    row = conn.execute(query).one_or_none()
    return None if row is None else _grant(*row)


def has_grant(conn: Connection, case_id: str, grant: Grant) -> bool:
    return get_grant(conn, case_id, grant.key) is not None


def add_grant(conn: Connection, case_id: str, grant: Grant) -> None:
    listed = None if grant.exhibits is None else json.dumps(list(grant.exhibits))
    conn.execute(
        insert(_G).values(
            case_id=case_id,
            jurisdiction=grant.jurisdiction,
            sub=grant.sub,
            role=grant.role,
            exhibits=listed,
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


# --- proposals to add a party (spec 2.1 case.party_proposed / approved / added) --------


@dataclass(frozen=True, slots=True)
class ProposalRow:
    seq: int
    jurisdiction: str
    proposed_by: str
    required: tuple[str, ...]  # the parties when it was proposed
    consented: tuple[str, ...]  # the proposer's state, then each consent
    added_seq: int | None
    created_at: datetime

    @property
    def pending(self) -> list[str]:
        """The states whose consent is still missing."""
        return sorted(set(self.required) - set(self.consented))


_PROPOSAL_COLUMNS = (
    _PP.c.seq,
    _PP.c.jurisdiction,
    _PP.c.proposed_by,
    _PP.c.required,
    _PP.c.consented,
    _PP.c.added_seq,
    _PP.c.created_at,
)


def _proposal(row: Row[*tuple[Any, ...]]) -> ProposalRow:
    m = row._mapping
    return ProposalRow(
        seq=m["seq"],
        jurisdiction=m["jurisdiction"],
        proposed_by=m["proposed_by"],
        required=tuple(json.loads(m["required"])),
        consented=tuple(json.loads(m["consented"])),
        added_seq=m["added_seq"],
        created_at=m["created_at"],
    )


def insert_proposal(
    conn: Connection,
    case_id: str,
    *,
    seq: int,
    jurisdiction: str,
    proposed_by: str,
    required: Sequence[str],
    now: datetime,
) -> None:
    conn.execute(
        insert(_PP).values(
            case_id=case_id,
            seq=seq,
            jurisdiction=jurisdiction,
            proposed_by=proposed_by,
            required=json.dumps(sorted(required)),
            consented=json.dumps([proposed_by]),
            added_seq=None,
            created_at=now,
        )
    )


def get_proposal(conn: Connection, case_id: str, seq: int) -> ProposalRow | None:
    query = select(*_PROPOSAL_COLUMNS).where(_PP.c.case_id == case_id, _PP.c.seq == seq)
    row = conn.execute(query).one_or_none()
    return None if row is None else _proposal(row)


def pending_proposals(conn: Connection, case_id: str) -> list[ProposalRow]:
    """Proposals not yet completed by a case.party_added, oldest first."""
    query = (
        select(*_PROPOSAL_COLUMNS)
        .where(_PP.c.case_id == case_id, _PP.c.added_seq.is_(None))
        .order_by(_PP.c.seq)
    )
    return [_proposal(row) for row in conn.execute(query)]


def set_consented(conn: Connection, case_id: str, seq: int, consented: Sequence[str]) -> None:
    conn.execute(
        update(_PP)
        .where(_PP.c.case_id == case_id, _PP.c.seq == seq)
        .values(consented=json.dumps(list(consented)))
    )


def set_added(conn: Connection, case_id: str, seq: int, added_seq: int) -> None:
    conn.execute(
        update(_PP).where(_PP.c.case_id == case_id, _PP.c.seq == seq).values(added_seq=added_seq)
    )
