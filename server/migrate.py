"""Alembic, driven from code: `jitc db upgrade`, and the schema check at server start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

import migrations
from server.errors import SchemaOutOfDateError

# __path__ rather than __file__: an editable install may see migrations/ as a namespace.
MIGRATIONS_DIR = next(Path(p) for p in migrations.__path__ if Path(p).is_dir()).resolve()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # migrations/versions is never empty
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def check_schema(engine: Engine) -> None:
    """Refuse a database that is not at the latest migration, saying what to run."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaOutOfDateError(
            f"the database has no schema yet (latest migration {head}): run `jitc db upgrade`"
        )
    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        known = scripts.get_revision(current) is not None
    except CommandError:
        known = False
    if not known:
        raise SchemaOutOfDateError(
            f"the database is at migration {current}, which this version of jitc does not "
            f"know (latest {head}): upgrade jitc"
        )
    raise SchemaOutOfDateError(
        f"the database is at migration {current}, behind the latest {head}: run `jitc db upgrade`"
    )
