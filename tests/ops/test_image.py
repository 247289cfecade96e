"""The app image's inputs, without a Docker engine: what .dockerignore lets into the build
context, and that what docker/Dockerfile installs from it (a package built from that
context alone) has everything the app needs to upgrade a database.

The build context is computed by docker-py's `exclude_paths`, the code docker-compose
1.29 sends a context with; it follows Docker's .dockerignore rules.
"""

from __future__ import annotations

import configparser
import fnmatch
import importlib
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.ops.conftest import ROOT, clean_env, unavailable

# What an operator's checkout may hold besides the source: none of it may reach an image.
NOT_SOURCE = (
    ".venv/bin/python",
    ".venv/lib/python3.11/site-packages/jose/jwt.py",
    "jitc-data/evidence/ab/cdef",
    "jitc-data/log-key.seed",
    "jitc-data/jitc.sqlite3",
    "nl/NL.es256.pem",
    "nl/NL.jwk.json",
    "bundle.zip",
    "phone.bin",
    "token",
    ".env",
    ".git/HEAD",
    ".git/objects/ab/cdef",
    "node_modules/left-pad/index.js",
    "verifier-js/node_modules/left-pad/index.js",
    "custody/__pycache__/merkle.cpython-311.pyc",
    "server/cli/__pycache__/admin.cpython-311.pyc",
    ".mypy_cache/3.11/custody.json",
    "build/lib/custody/__init__.py",
    "jit_custody.egg-info/PKG-INFO",
    "tests/test_something.py",
)
SOURCE = (
    "pyproject.toml",
    "README.md",
    "custody/__init__.py",
    "evidence/__init__.py",
    "server/cli/__init__.py",
    "witness/__init__.py",
    "migrations/alembic.ini",
    "migrations/versions/0001_initial.py",
    "docker/Dockerfile",
    "docker/start.sh",
)


def _docker_build() -> ModuleType:
    try:
        return importlib.import_module("docker.utils.build")
    except ImportError:
        unavailable("docker-py (installed with moto[server], the dev extra) is missing")


def build_context(root: Path) -> set[str]:
    """The files `docker build` sends for `root`, as relative POSIX paths (folders are
    sent too, as entries; only the files are returned)."""
    lines = (root / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    sent = _docker_build().exclude_paths(str(root), patterns)
    return {Path(p).as_posix() for p in sent if not (root / p).is_dir()}


def test_context_leaves_out_everything_but_the_source(tmp_path: Path) -> None:
    for name in (*NOT_SOURCE, *SOURCE):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    context = build_context(tmp_path)
    assert context - {".dockerignore"} == set(SOURCE)


def _packages() -> list[str]:
    """The checkout's top-level packages that pyproject.toml's package finder takes."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").is_file()
        and any(fnmatch.fnmatchcase(path.name, pattern) for pattern in include)
    )


def test_context_of_this_checkout_has_every_package_and_build_file() -> None:
    context = build_context(ROOT)
    tops = {name.split("/", 1)[0] for name in context}
    packages = _packages()
    assert {"custody", "evidence", "server", "migrations"} <= set(packages)
    assert set(packages) <= tops, "add the new package to .dockerignore"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert {"pyproject.toml", project["project"]["readme"], "docker/start.sh"} <= context
    assert {".venv", ".git", "jitc-data", "tests", "node_modules"} & tops == set()


@pytest.mark.slow
def test_package_built_from_the_context_alone_upgrades_a_database(tmp_path: Path) -> None:
    """What the image installs: a wheel built from the context only (any file the build
    or the app needs but .dockerignore leaves out fails here), run from outside the
    checkout as `jitc db upgrade`."""
    context = tmp_path / "context"
    for name in build_context(ROOT):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, context / name)
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), context],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    (dist_info,) = site.glob("*.dist-info")
    entry_points = configparser.ConfigParser()
    entry_points.read(dist_info / "entry_points.txt", encoding="utf-8")
    module, _, function = entry_points["console_scripts"]["jitc"].partition(":")

    # `jitc db upgrade` as the console script runs it, importing only from the wheel.
    run = tmp_path / "run"
    run.mkdir()
    program = (
        "import importlib, sys\n"
        f"main = getattr(importlib.import_module({module!r}), {function!r})\n"
        "root = sys.modules[__import__('server').__name__].__file__\n"
        f"assert root.startswith({str(site)!r}), root\n"
        "sys.exit(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "db", "upgrade"],
        cwd=run,
        env=clean_env(
            PYTHONPATH=str(site),
            JITC_DATABASE_URL=f"sqlite:///{run / 'jitc.sqlite3'}",
            JITC_DATA_DIR=str(run / "data"),
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("database at migration ")
