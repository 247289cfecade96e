"""Exhibit shares: who holds one now (the rules decide with `server.services.rules`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from server.models import ExhibitShare, table

_shares = table(ExhibitShare)


def active_shares(
    conn: Connection, case_id: str, exhibit_ids: Sequence[str] | None
) -> dict[str, dict[str, str]]:
    """Unrevoked shares at this moment: exhibit -> {jurisdiction: conditions}, for these
    exhibits of the case or all of them."""
    query = select(_shares.c.exhibit_id, _shares.c.jurisdiction, _shares.c.conditions).where(
        _shares.c.case_id == case_id, _shares.c.revoked_at.is_(None)
    )
    if exhibit_ids is not None:
        query = query.where(_shares.c.exhibit_id.in_(list(exhibit_ids)))
    found: dict[str, dict[str, str]] = {}
    for exhibit_id, jurisdiction, conditions in conn.execute(query):
        found.setdefault(exhibit_id, {})[jurisdiction] = conditions
    return found


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
