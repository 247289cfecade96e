"""Alembic environment: migrations run on the connection handed in by server.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from server.models import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # The plain `alembic` command line: take the URL from alembic.ini / -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("use `jitc db upgrade`, or pass -x url=DATABASE_URL to alembic")
    engine = create_engine(url)
    with engine.begin() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: use `jitc db upgrade`")
run_migrations_online()
