"""Witnesses of the party states, case quorums and collected cosignatures ."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from server.models import (
    CaseParty,
    CasePolicy,
    Checkpoint,
    CheckpointCosignature,
    Jurisdiction,
    JurisdictionWitness,
    LogEntry,
    table,
)

_W = table(JurisdictionWitness)
_P = table(CaseParty)
_Q = table(CasePolicy)
_CP = table(Checkpoint)
_CS = table(CheckpointCosignature)
_E = table(LogEntry)
_J = table(Jurisdiction)

POLICY_SET = "case.policy_set"


@dataclass(frozen=True, slots=True)
class WitnessRow:
    jurisdiction: str
    name: str
    url: str
    vkey: str


_COLUMNS = (_W.c.jurisdiction, _W.c.name, _W.c.url, _W.c.vkey)


def put_witness(conn: Connection, row: WitnessRow, *, now: datetime) -> None:
    """Register a state's witness, replacing the one it had (one witness per state)."""
    conn.execute(delete(_W).where(_W.c.jurisdiction == row.jurisdiction))
    conn.execute(
        insert(_W).values(
            jurisdiction=row.jurisdiction, name=row.name, url=row.url, vkey=row.vkey, created_at=now
        )
    )


def delete_witness(conn: Connection, code: str) -> bool:
    """Remove a state's witness; False if it had none."""
    return conn.execute(delete(_W).where(_W.c.jurisdiction == code)).rowcount > 0


def name_taken(conn: Connection, name: str, *, by_other_than: str) -> bool:
    query = select(_W.c.jurisdiction).where(_W.c.name == name, _W.c.jurisdiction != by_other_than)
    return conn.execute(query).first() is not None


def all_witnesses(conn: Connection) -> list[WitnessRow]:
    return [WitnessRow(*row) for row in conn.execute(select(*_COLUMNS).order_by(_W.c.name))]


def witnesses_of_case(conn: Connection, case_id: str) -> list[WitnessRow]:
    """The witnesses of the case's party states, by name."""
    query = (
        select(*_COLUMNS)
        .join(_P, _P.c.jurisdiction == _W.c.jurisdiction)
        .where(_P.c.case_id == case_id)
        .order_by(_W.c.name)
    )
    return [WitnessRow(*row) for row in conn.execute(query)]


def witnesses_by_case(conn: Connection) -> dict[str, list[WitnessRow]]:
    """Every case that has at least one party witness, with those witnesses."""
    query = (
        select(_P.c.case_id, *_COLUMNS)
        .join(_W, _P.c.jurisdiction == _W.c.jurisdiction)
        .order_by(_P.c.case_id, _W.c.name)
    )
    found: dict[str, list[WitnessRow]] = {}
    for case_id, *rest in conn.execute(query):
        found.setdefault(case_id, []).append(WitnessRow(*rest))
    return found


def quorum(conn: Connection, case_id: str) -> int | None:
    """The quorum a prosecutor set (k of n), or None: every party witness."""
    value = conn.execute(select(_Q.c.quorum).where(_Q.c.case_id == case_id)).scalar()
    return None if value is None else int(value)


def set_quorum(
    conn: Connection, case_id: str, value: int | None, *, by: str, now: datetime
) -> None:
    exists = conn.execute(select(_Q.c.case_id).where(_Q.c.case_id == case_id)).first()
    if exists is None:
        conn.execute(
            insert(_Q).values(case_id=case_id, quorum=value, updated_at=now, updated_by=by)
        )
    else:
        conn.execute(
            update(_Q)
            .where(_Q.c.case_id == case_id)
            .values(quorum=value, updated_at=now, updated_by=by)
        )


def latest_sizes(conn: Connection, case_ids: list[str]) -> dict[str, int]:
    """The size of each case's newest checkpoint."""
    if not case_ids:
        return {}
    query = (
        select(_CP.c.case_id, func.max(_CP.c.size))
        .where(_CP.c.case_id.in_(case_ids))
        .group_by(_CP.c.case_id)
    )
    return {case_id: int(size) for case_id, size in conn.execute(query)}


def cosigned_sizes(conn: Connection, case_ids: list[str]) -> dict[tuple[str, str], int]:
    """(case, witness name) -> the largest size that witness cosigned for the case."""
    if not case_ids:
        return {}
    query = (
        select(_CS.c.case_id, _CS.c.key_name, func.max(_CS.c.size))
        .where(_CS.c.case_id.in_(case_ids))
        .group_by(_CS.c.case_id, _CS.c.key_name)
    )
    return {(case_id, name): int(size) for case_id, name, size in conn.execute(query)}


def add_cosignature(
    conn: Connection, case_id: str, size: int, key_name: str, line: str, *, now: datetime
) -> None:
    """Keep a cosignature line; a second one of the same witness for a size is not kept."""
    exists = conn.execute(
        select(_CS.c.size).where(
            _CS.c.case_id == case_id, _CS.c.size == size, _CS.c.key_name == key_name
        )
    ).first()
    if exists is None:
        conn.execute(
            insert(_CS).values(
                case_id=case_id, size=size, key_name=key_name, line=line, received_at=now
            )
        )


def cosignatures(conn: Connection, case_id: str) -> list[tuple[int, str, str]]:
    """Every (size, key name, line) of a case, newest size first."""
    query = (
        select(_CS.c.size, _CS.c.key_name, _CS.c.line)
        .where(_CS.c.case_id == case_id)
        .order_by(_CS.c.size.desc(), _CS.c.key_name)
    )
    return [(int(size), name, line) for size, name, line in conn.execute(query)]


def checkpoint_notes(conn: Connection, case_id: str) -> list[tuple[int, bytes, bytes]]:
    """Every stored checkpoint of a case as (size, root, signed note), by size."""
    query = select(_CP.c.size, _CP.c.root, _CP.c.note).where(_CP.c.case_id == case_id)
    return [(int(s), r, n) for s, r, n in conn.execute(query.order_by(_CP.c.size))]


def logged_policies(
    conn: Connection, case_id: str, *, before: int | None = None, newest_only: bool = False
) -> list[tuple[int, bytes]]:
    """The case's case.policy_set entries as (seq, canonical bytes), by seq, with seq below
    `before` if given; `newest_only`: the last of them only. A partial index keeps this off
    the case's other entries (migration 0008)."""
    query = select(_E.c.seq, _E.c.canonical).where(_E.c.case_id == case_id, _E.c.type == POLICY_SET)
    if before is not None:
        query = query.where(_E.c.seq < before)
    if newest_only:
        query = query.order_by(_E.c.seq.desc()).limit(1)
        return [(int(seq), raw) for seq, raw in conn.execute(query)]
    return [(int(seq), raw) for seq, raw in conn.execute(query.order_by(_E.c.seq))]


def cases_of_state(conn: Connection, code: str) -> list[str]:
    """The cases the state is party to, by id."""
    query = select(_P.c.case_id).where(_P.c.jurisdiction == code).order_by(_P.c.case_id)
    return [str(case_id) for (case_id,) in conn.execute(query)]


def lock_state(conn: Connection, code: str) -> bool:
    """Lock a state's row before its witness changes (PostgreSQL: FOR UPDATE; SQLite's
    write lock already serialises). False if there is no such state."""
    query = select(_J.c.code).where(_J.c.code == code).with_for_update()
    return conn.execute(query).first() is not None


def share_lock_parties(conn: Connection, case_id: str) -> None:
    """Lock the case's party states' rows against a witness change (FOR SHARE) until the
    transaction ends, so that the witnesses read next stay those of the policy logged."""
    parties = select(_P.c.jurisdiction).where(_P.c.case_id == case_id)
    query = select(_J.c.code).where(_J.c.code.in_(parties)).with_for_update(read=True)
    conn.execute(query).all()


def newest_checkpoints_at_most(conn: Connection, case_id: str, bounds: list[int]) -> set[int]:
    """For each bound, the size of the case's largest stored checkpoint not above it."""
    found: set[int] = set()
    for bound in sorted(set(bounds)):
        query = select(func.max(_CP.c.size)).where(_CP.c.case_id == case_id, _CP.c.size <= bound)
        size = conn.execute(query).scalar()
        if size is not None:
            found.add(int(size))
    return found
