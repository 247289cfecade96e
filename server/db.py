"""Engines and transactions for SQLite (embedded) and PostgreSQL (production).

SQLite: WAL mode, a busy timeout, foreign keys on, and every write transaction opened
with BEGIN IMMEDIATE so writers queue on the database lock instead of failing to upgrade
a read lock halfway (the pysqlite driver's own BEGIN is switched off). Read-only
transactions open with a plain BEGIN and run beside the writer (WAL).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from server.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 60_000
_READ_ONLY = "jitc_read_only"


def make_engine(settings: Settings) -> Engine:
    """The engine for the configured database; the SQLite file's directory is created."""
    if settings.is_sqlite:
        return _sqlite_engine(settings)
    return create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=60,
    )


def _sqlite_engine(settings: Settings) -> Engine:
    path = settings.database_url.removeprefix("sqlite:///")
    if settings.embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=60,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    with engine.begin() as connection:
        yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction: one snapshot for all its statements (PostgreSQL
    REPEATABLE READ; SQLite in WAL mode gives a reader a snapshot by itself)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        connection.execution_options(**{_READ_ONLY: True})
        with connection.begin():
            yield connection
