"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL: 127.0.0.1:5432, user postgres (trust auth). One fresh, uniquely named
database per test session, migrated once, emptied between tests, dropped at the end.
Unreachable PostgreSQL skips those tests locally and fails the run when CI=true.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import create_engine, text

from server import migrate
from server.app import create_app
from server.config import Settings
from server.db import make_engine
from server.models import Base
from server.services.workspace import Workspace
from tests.evidence.support import Harness, MotoServer
from tests.server.helpers import World
from tests.server.testclient import TestClient

PG_HOST = os.environ.get("JITC_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("JITC_TEST_PG_PORT", "5432"))
PG_ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres connect_timeout=5"
LOG_NAME = "jitc.test"


def pg_url(dbname: str) -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{dbname}"


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as user postgres: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


class PostgresDatabases:
    """Creates uniquely named databases and drops every one of them at the end."""

    def __init__(self) -> None:
        self.prefix = f"jitc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    def create(self, suffix: str) -> str:
        name = f"{self.prefix}_{suffix}"
        with _admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        if not self.created:
            return
        with _admin() as conn:
            for name in self.created:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        self.created.clear()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    _admin().close()  # skip (or fail under CI) before creating anything
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def pg_session_url(pg_databases: PostgresDatabases) -> str:
    """The session's database, migrated to head once."""
    url = pg_url(pg_databases.create("main"))
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    settings = _settings(tmp_path_factory.mktemp("unused"), f"sqlite:///{path}")
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return path


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        names = ", ".join(table.name for table in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at the latest migration, empty, on each backend in turn."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "jitc.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_session_url")
    _empty_postgres(url)
    return url


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema at all, on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    databases: PostgresDatabases = request.getfixturevalue("pg_databases")
    return pg_url(databases.create(f"empty_{uuid.uuid4().hex[:8]}"))


def _settings(data_dir: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": url,
        "embedded": False,
        "log_name": LOG_NAME,
        "log_key": None,
        "revocation_refresh": 0.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return _settings(tmp_path / "data", db_url)


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    ws = Workspace.open(settings)
    yield ws
    ws.close()


@pytest.fixture
def client(workspace: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(workspace=workspace), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def world(workspace: Workspace) -> World:
    """Three registered states (NL, DE, FR) with one ES256 authority key each."""
    return World.create(workspace.engine, audience=LOG_NAME, codes=("NL", "DE", "FR"))


# Every server content test runs on both evidence stores (fs and moto S3).
@pytest.fixture(params=["fs", pytest.param("s3", marks=pytest.mark.s3)])
def evidence(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "fs":
        yield Harness("fs", root=tmp_path / "evidence")
        return
    moto: MotoServer = request.getfixturevalue("moto_server")
    suffix = uuid.uuid4().hex[:12]
    try:
        yield Harness(
            "s3", moto=moto, bucket=f"evidence-{suffix}", staging_bucket=f"staging-{suffix}"
        )
    finally:
        moto.reset()  # moto keeps everything in memory


@pytest.fixture
def content_client(workspace: Workspace, evidence: Harness) -> Iterator[TestClient]:
    """The app over the workspace, its evidence in the store under test."""
    workspace.use_store(evidence.store)
    with TestClient(create_app(workspace=workspace), raise_server_exceptions=False) as test_client:
        yield test_client
