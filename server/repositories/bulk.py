"""Multi-row inserts and updates: one statement per batch.

PostgreSQL: `INSERT ... SELECT * FROM unnest(arrays)` and `UPDATE ... FROM unnest(...)`,
one bound array per column; `write_all` joins several of them into one statement of
data-modifying CTEs. The statement text is short and the same for every batch size, so
psycopg parses and prepares it once, and a whole batch costs one round trip.
(executemany() would pipeline one statement per row; multi-row VALUES would make a new
long statement text, parsed again, for every batch size.) See docs/adr/0003.

SQLite: executemany(), a loop in C inside the same process.

NOTE: statement texts are built from table and column names of server.models only, never
from input; values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table, TextClause, bindparam, insert, text, update

Values = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Row:
    """One row to insert into a table at the end of the transaction's batch."""

    table: Table
    values: Values


@dataclass(frozen=True, slots=True)
class Insert:
    table: Table
    rows: Sequence[Values]


@dataclass(frozen=True, slots=True)
class Update:
    """Set the other columns of the rows whose `key` column matches."""

    table: Table
    key: str
    rows: Sequence[Values]


Write = Insert | Update
# (table, key or "" for an insert, columns, PostgreSQL array types): a statement's shape.
_Shape = tuple[Table, str, tuple[str, ...], tuple[str, ...]]


def _columns(rows: Sequence[Values]) -> tuple[str, ...]:
    columns = tuple(rows[0])
    if any(tuple(row) != columns for row in rows):
        raise ValueError("every row of a bulk statement must have the same columns")
    return columns


def _shape(conn: Connection, write: Write) -> _Shape:
    columns = _columns(write.rows)
    types = tuple(f"{write.table.c[c].type.compile(dialect=conn.dialect)}[]" for c in columns)
    return (write.table, write.key if isinstance(write, Update) else "", columns, types)


def _pg_sql(shape: _Shape, prefix: str) -> str:
    table, key, columns, types = shape
    arrays = ", ".join(f"CAST(:{prefix}{c} AS {t})" for c, t in zip(columns, types, strict=True))
    names = ", ".join(columns)
    if not key:
        return f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608
    sets = ", ".join(f"{c} = u.{c}" for c in columns if c != key)
    return (
        f"UPDATE {table.name} AS t SET {sets} "  # noqa: S608
        f"FROM unnest({arrays}) AS u({names}) WHERE t.{key} = u.{key}"
    )


@cache
def _pg_statement(shapes: tuple[_Shape, ...]) -> TextClause:
    if len(shapes) == 1:
        return text(_pg_sql(shapes[0], "w0_"))
    parts = ", ".join(f"w{n} AS ({_pg_sql(shape, f'w{n}_')})" for n, shape in enumerate(shapes))
    return text(f"WITH {parts} SELECT 1")


def _sqlite_write(conn: Connection, write: Write) -> None:
    rows = list(write.rows)
    if isinstance(write, Insert):
        conn.execute(insert(write.table), rows)
        return
    table, key = write.table, write.key
    statement = (
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"))
        .values({c: bindparam(f"b_{c}") for c in rows[0] if c != key})
    )
    conn.execute(statement, [{f"b_{c}": value for c, value in row.items()} for row in rows])


def write_all(conn: Connection, writes: Sequence[Write]) -> None:
    """Run the writes in order; on PostgreSQL as few statements as possible.

    The parts of one statement all see the rows as they were before it, so an update of
    a table inserted into earlier starts a new statement. Foreign keys are checked at the
    end of each statement, so rows may refer to rows inserted by earlier parts."""
    writes = [write for write in writes if write.rows]
    if conn.dialect.name != "postgresql":
        for write in writes:
            _sqlite_write(conn, write)
        return
    group: list[Write] = []
    inserted: set[Table] = set()
    for write in writes:
        if isinstance(write, Update) and write.table in inserted:
            _pg_execute(conn, group)
            group, inserted = [], set()
        group.append(write)
        if isinstance(write, Insert):
            inserted.add(write.table)
    _pg_execute(conn, group)


def _pg_execute(conn: Connection, writes: Sequence[Write]) -> None:
    if not writes:
        return
    shapes = tuple(_shape(conn, write) for write in writes)
    params = {
        f"w{n}_{c}": [row[c] for row in write.rows]
        for n, (write, shape) in enumerate(zip(writes, shapes, strict=True))
        for c in shape[2]
    }
    conn.execute(_pg_statement(shapes), params)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Values]) -> None:
    write_all(conn, [Insert(table, rows)])


def update_rows(conn: Connection, table: Table, key: str, rows: Sequence[Values]) -> None:
    write_all(conn, [Update(table, key, rows)])
