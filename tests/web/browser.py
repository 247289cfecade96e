"""A real browser against a real server: Debian's chromium driven by Playwright, and the
app served by uvicorn on a loopback port in a thread of the test process.

Without chromium or the playwright package the browser tests skip locally, and fail
under CI=true (as the PostgreSQL tests do): `scripts/install-browser` installs both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from starlette.applications import Starlette

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path(os.environ.get("JITC_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
AXE = Path(__file__).parent / "assets" / "axe.min.js"
SCREENSHOTS = os.environ.get("JITC_SCREENSHOTS")
"""A directory to save screenshots of the main pages into (docs/screenshots)."""


def need_browser() -> None:
    """Skip (locally) or fail (CI=true) unless chromium and playwright are here."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "the playwright package is not installed (scripts/install-browser)"
    if reason is None and not CHROMIUM.is_file():
        reason = f"no chromium at {CHROMIUM} (scripts/install-browser)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(app: Starlette) -> Iterator[str]:
    """The app on http://127.0.0.1:PORT until the block ends."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="jitc-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def watch_csp(page: Page) -> list[str]:
    """Collect every Content-Security-Policy refusal the page reports."""
    refused: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    return refused


def axe_problems(page: Page) -> list[str]:
    """Serious and critical axe-core violations on the page (WCAG 2.x A and AA).

    axe is evaluated through the DevTools protocol, which the page's CSP does not govern,
    so the page's own policy stays as strict as it is served."""
    page.evaluate(AXE.read_text("utf-8"))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {v['nodes']}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Page, name: str) -> None:
    """Save the whole page as SCREENSHOTS/name.png, quantised by pngquant when it is
    installed (a third of the size, for pictures committed to the repository)."""
    if not SCREENSHOTS:
        return
    path = Path(SCREENSHOTS) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    pngquant = shutil.which("pngquant")
    if pngquant is not None:
        subprocess.run(
            [pngquant, "--force", "--skip-if-larger", "--strip", "--output", str(path), str(path)],
            check=False,
        )


def person(
    browser: Browser, site: str, token: str, *, locale: str = "en-GB"
) -> tuple[BrowserContext, Page, list[str]]:
    """A signed-in person in Amsterdam's time zone, and the CSP refusals their pages report."""
    context = browser.new_context(
        locale=locale, accept_downloads=True, timezone_id="Europe/Amsterdam"
    )
    page = context.new_page()
    refused = watch_csp(page)
    page.goto(f"{site}/sign-in")
    page.fill("#token", token)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{site}/cases")
    return context, page, refused
