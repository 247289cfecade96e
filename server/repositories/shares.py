"""Exhibit shares: the select()s behind "may this state read this exhibit right now"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from server.models import Exhibit, ExhibitShare, table

_shares = table(ExhibitShare)
_exhibits = table(Exhibit)


def is_shared_with(conn: Connection, exhibit_id: str, jurisdiction: str) -> bool:
    """True if the exhibit holds an unrevoked share for `jurisdiction` at this moment."""
    row = conn.execute(
        select(_shares.c.exhibit_id).where(
            _shares.c.exhibit_id == exhibit_id,
            _shares.c.jurisdiction == jurisdiction,
            _shares.c.revoked_at.is_(None),
        )
    ).first()
    return row is not None


def may_read_content(conn: Connection, exhibit_id: str, jurisdiction: str) -> bool:
    """spec 6.7: the owner state, or a state holding an unrevoked share."""
    owner = conn.execute(select(_exhibits.c.owner).where(_exhibits.c.id == exhibit_id)).scalar()
    return owner == jurisdiction or is_shared_with(conn, exhibit_id, jurisdiction)


# Sharing and revoking (server.services.sharing), and what is shared with whom.


@dataclass(frozen=True, slots=True)
class ShareRow:
    exhibit_id: str
    jurisdiction: str
    conditions: str
    shared_at: datetime
    shared_seq: int
    revoked_at: datetime | None
    revoked_seq: int | None


_SHARE_COLUMNS = (
    _shares.c.exhibit_id,
    _shares.c.jurisdiction,
    _shares.c.conditions,
    _shares.c.shared_at,
    _shares.c.shared_seq,
    _shares.c.revoked_at,
    _shares.c.revoked_seq,
)


def get_share(conn: Connection, exhibit_id: str, jurisdiction: str) -> ShareRow | None:
    row = conn.execute(
        select(*_SHARE_COLUMNS).where(
            _shares.c.exhibit_id == exhibit_id, _shares.c.jurisdiction == jurisdiction
        )
    ).one_or_none()
    return None if row is None else ShareRow(*row)


def shares_of_case(
    conn: Connection, case_id: str, *, exhibit_id: str | None = None
) -> list[ShareRow]:
    query = select(*_SHARE_COLUMNS).where(_shares.c.case_id == case_id)
    if exhibit_id is not None:
        query = query.where(_shares.c.exhibit_id == exhibit_id)
    query = query.order_by(_shares.c.exhibit_id, _shares.c.jurisdiction)
    return [ShareRow(*row) for row in conn.execute(query)]


def put_share(
    conn: Connection,
    *,
    case_id: str,
    exhibit_id: str,
    jurisdiction: str,
    conditions: str,
    now: datetime,
    seq: int,
    exists: bool,
) -> None:
    """Share (again): a revoked share row is reused, its revocation cleared."""
    values = {
        "conditions": conditions,
        "shared_at": now,
        "shared_seq": seq,
        "revoked_at": None,
        "revoked_seq": None,
    }
    if exists:
        conn.execute(
            update(_shares)
            .where(_shares.c.exhibit_id == exhibit_id, _shares.c.jurisdiction == jurisdiction)
            .values(**values)
        )
    else:
        conn.execute(
            insert(_shares).values(
                exhibit_id=exhibit_id, jurisdiction=jurisdiction, case_id=case_id, **values
            )
        )


def revoke_share(
    conn: Connection, exhibit_id: str, jurisdiction: str, *, now: datetime, seq: int
) -> None:
    conn.execute(
        update(_shares)
        .where(_shares.c.exhibit_id == exhibit_id, _shares.c.jurisdiction == jurisdiction)
        .values(revoked_at=now, revoked_seq=seq)
    )
