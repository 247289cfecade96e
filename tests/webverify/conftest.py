"""Fixtures for the browser verifier's tests: Node.js, Chromium, and the shared catalogue.

Node.js (with web/verifier's packages installed) and Debian's Chromium with the Python
`playwright` package are needed here only. Missing, they skip these tests locally with
the reason and fail the run when CI=true, as the PostgreSQL tests do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.webverify import catalogue

REPO = Path(__file__).resolve().parents[2]
VERIFIER = REPO / "web" / "verifier"
VERIFY_HTML = REPO / "server" / "web" / "static" / "verify.html"
CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, headless and quiet: Playwright's own browser download cannot work here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "node: runs the JavaScript verifier under Node.js")
    config.addinivalue_line("markers", "browser: drives headless Chromium through Playwright")


def missing(reason: str) -> None:
    """Skip locally; fail under CI, where every tool must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        missing("Node.js (node) is not installed; the JavaScript verifier cannot run")
        raise AssertionError  # unreachable: missing() raises
    version = subprocess.run(
        [found, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0)
    if major < 20:
        missing(f"Node.js {version} is too old: the verifier needs 20 or newer")
    for package in ("fflate", "hash-wasm"):
        if not (VERIFIER / "node_modules" / package).is_dir():
            missing(f"web/verifier/node_modules/{package} is missing: run 'npm ci' in web/verifier")
    return found


@pytest.fixture(scope="session")
def catalogue_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalogue")
    catalogue.write(out)
    return out


@pytest.fixture(scope="session")
def cases(catalogue_dir: Path) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((catalogue_dir / "cases.json").read_text("utf-8"))
    return loaded


@pytest.fixture(scope="session")
def js_reports(node: str, catalogue_dir: Path) -> dict[str, dict[str, Any]]:
    """The JavaScript verifier's report on every case, from one Node.js process."""
    result = subprocess.run(
        [node, str(VERIFIER / "cli.mjs"), "--cases", str(catalogue_dir / "cases.json")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    reports: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return reports


@pytest.fixture(scope="module")
def chromium_page() -> Iterator[Any]:
    """A page of headless Chromium, through Playwright. Module-scoped: Playwright's sync API
    keeps an event loop running on the main thread while it is open, and a later test's
    asyncio.run() must not find it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the Python package playwright is not installed: .venv/bin/pip install playwright")
        raise AssertionError from None  # unreachable
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing: run 'bash scripts/install-browser'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
