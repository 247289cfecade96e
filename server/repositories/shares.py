"""Exhibit shares: the select()s behind "may this state read this exhibit right now"."""

from __future__ import annotations

from sqlalchemy import Connection, select

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
