"""Leases in the database (server.services.leases): take, extend and give up one by name.

Times come from the database where there is one for every server: PostgreSQL's `now()`,
so app servers whose clocks drift still agree on when a lease expires. SQLite is a file
on one host, so its clock is that host's, read here and bound as a value.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Interval, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from server.models import Lease, UTCDateTime, table

_L = table(Lease)


def _times(
    conn: Connection, ttl: timedelta
) -> tuple[ColumnElement[datetime], ColumnElement[datetime]]:
    """Now, and now plus `ttl`, as SQL on the database's clock."""
    if conn.dialect.name == "postgresql":
        now: ColumnElement[datetime] = func.now()
        return now, now + literal(ttl, Interval())
    moment = datetime.now(UTC)
    return literal(moment, UTCDateTime()), literal(moment + ttl, UTCDateTime())


def take(conn: Connection, name: str, holder: str, ttl: timedelta) -> bool:
    """Make `holder` the holder of `name` if nobody holds it or its lease has expired, in
    one statement (the database decides between concurrent takers); False if held."""
    now, until = _times(conn, ttl)
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    row = dialect_insert(_L).values(name=name, holder=holder, expires_at=until)
    statement = row.on_conflict_do_update(
        index_elements=[_L.c.name],
        set_={"holder": row.excluded.holder, "expires_at": row.excluded.expires_at},
        where=_L.c.expires_at < now,
    ).returning(_L.c.holder)
    return conn.execute(statement).first() is not None


def exists(conn: Connection, name: str) -> bool:
    """Whether a row names `name`: a holder has it, or had it and never gave it up."""
    return conn.execute(select(_L.c.name).where(_L.c.name == name)).first() is not None


def extend(conn: Connection, name: str, holder: str, ttl: timedelta) -> bool:
    """Push the expiry of `holder`'s lease to now plus `ttl`; False if it is not theirs
    (taken over after it expired, or removed)."""
    _now, until = _times(conn, ttl)
    result = conn.execute(
        update(_L).where(_L.c.name == name, _L.c.holder == holder).values(expires_at=until)
    )
    return bool(result.rowcount)


def give_up(conn: Connection, name: str, holder: str) -> None:
    """Remove `holder`'s lease; one another holder took over stays."""
    conn.execute(delete(_L).where(_L.c.name == name, _L.c.holder == holder))


def held(conn: Connection, prefix: str = "") -> dict[str, datetime]:
    """The leases whose name starts with `prefix` and their expiry (expired ones too)."""
    query = select(_L.c.name, _L.c.expires_at).where(_L.c.name.startswith(prefix, autoescape=True))
    return {str(name): expires for name, expires in conn.execute(query)}
