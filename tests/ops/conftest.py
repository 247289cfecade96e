"""Fixtures for the operations checks: the checkout, this venv's `jitc`, a fresh database.

These tests run what an operator runs (the compose file's validators, the commands of
docs/operations.md, the image's start script) as subprocesses, so they need the console
script `jitc` of the environment running the tests, as the README installs it.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

PG_HOST = os.environ.get("JITC_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("JITC_TEST_PG_PORT", "5432"))
PG_ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres connect_timeout=5"


def unavailable(reason: str) -> NoReturn:
    """Skip locally; under CI=true a missing tool or service fails the run instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run must provide it)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any JITC_, Compose or MinIO setting of the
    developer's shell, so that only what a test sets configures the commands it runs."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("JITC_", "COMPOSE_", "DOCKER_", "MINIO_"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def jitc_bin() -> Path:
    """The folder of this environment's `jitc` console script (`.venv/bin`)."""
    if not (BIN / "jitc").is_file():
        pytest.fail(f"no jitc console script in {BIN}: install the checkout (scripts/test)")
    return BIN


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as postgres: {exc}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, as an operator's JITC_DATABASE_URL names it: a new SQLite file,
    or a freshly created PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jitc.sqlite3'}"
        return
    name = f"jitc_ops_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with _admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
