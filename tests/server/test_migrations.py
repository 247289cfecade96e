"""Alembic is the only way the schema comes to exist: up from empty, down again, on both."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from server import migrate
from server.config import Settings
from server.errors import SchemaOutOfDateError
from server.models import Base
from server.services.workspace import Workspace


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_to_head_and_back(empty_db_url: str) -> None:
    engine = create_engine(empty_db_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert _tables(empty_db_url) == set(Base.metadata.tables)
        with engine.connect() as conn:
            # The models and the migrations describe the same schema.
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert _tables(empty_db_url) == set()
        migrate.upgrade(engine)  # and up again after a full downgrade
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_server_refuses_a_database_behind_the_latest_migration(
    empty_db_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=empty_db_url, embedded=False, log_name="t", log_key=None
    )
    with pytest.raises(SchemaOutOfDateError, match="run `jitc db upgrade`"):
        Workspace.open(settings)


def test_server_refuses_an_unknown_newer_migration(empty_db_url: str, tmp_path: Path) -> None:
    engine = create_engine(empty_db_url)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff_future'")
    finally:
        engine.dispose()
    settings = Settings(
        data_dir=tmp_path, database_url=empty_db_url, embedded=False, log_name="t", log_key=None
    )
    with pytest.raises(SchemaOutOfDateError, match="upgrade jitc"):
        Workspace.open(settings)


def test_embedded_default_upgrades_itself(tmp_path: Path) -> None:
    settings = Settings.from_env({"JITC_DATA_DIR": str(tmp_path / "jitc-data")})
    assert settings.embedded
    ws = Workspace.open(settings)
    try:
        engine = ws.engine
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        ws.close()
    assert (tmp_path / "jitc-data" / "jitc.sqlite3").is_file()
    assert (tmp_path / "jitc-data" / "log-key.seed").stat().st_mode & 0o777 == 0o600
