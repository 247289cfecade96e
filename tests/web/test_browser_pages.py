"""Every page of the workspace in a real browser, each section filled in (tests/web/tour.py):
no serious or critical axe-core violation, no Content-Security-Policy refusal, and with
JITC_SCREENSHOTS set, the screenshots of docs/screenshots.

Headless Debian chromium (Playwright) against the app served on a loopback port. Skipped
locally without chromium or playwright, failed under CI=true (tests/web/browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette

from server.services.workspace import Workspace
from tests.server.helpers import World
from tests.server.witnesses import Witnesses
from tests.web.browser import (
    axe_problems,
    chromium,
    live_server,
    need_browser,
    person,
    screenshot,
    watch_csp,
)
from tests.web.tour import Tour, build_tour, witnessed_app, witnesses_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow

# Who reads the pages in which language: the FR prosecutor in French, everyone else in
# English (the tour's Dutch pages are in tests/web/test_browser.py's upload).
LOCALES = {"FR": "fr-FR"}


@pytest.fixture
def witnesses(workspace: Workspace, world: World, tmp_path: Path) -> Witnesses:
    assert {"NL", "FR"} <= world.keys.keys()  # registered states, before their witnesses
    return witnesses_for(workspace, tmp_path)


@pytest.fixture
def app(workspace: Workspace, witnesses: Witnesses) -> Starlette:
    return witnessed_app(workspace, witnesses)


@pytest.fixture
def site(app: Starlette) -> Iterator[str]:
    need_browser()
    with live_server(app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    need_browser()
    with chromium() as launched:
        yield launched


def test_every_page_passes_axe_core(
    site: str,
    browser: Browser,
    app: Starlette,
    world: World,
    workspace: Workspace,
    witnesses: Witnesses,
) -> None:
    def request(method: str, path: str, **options: Any) -> httpx.Response:
        return httpx.request(method, site + path, timeout=60, **options)

    tour: Tour = build_tour(request, app.state.runtime, world, workspace, witnesses)
    problems: dict[str, list[str]] = {}
    anonymous = browser.new_context(locale="fr-FR")
    page = anonymous.new_page()
    refused = watch_csp(page)
    page.goto(f"{site}/sign-in")
    assert page.get_attribute("html", "lang") == "fr"
    problems["/sign-in"] = axe_problems(page)
    screenshot(page, "sign-in-fr")
    anonymous.close()
    for (code, role, sub), visits in tour.visits().items():
        locale = LOCALES.get(code, "en-GB")
        context, page, seen = person(browser, site, world.token(code, role, sub), locale=locale)
        refused += seen
        for path, name in visits:
            page.goto(site + path)
            # Times are shown in the browser's zone (told by app.js) with UTC beside them.
            if page.locator("main time").count():
                assert page.locator("main time .utc").count(), (name, path)
            problems[f"{name} {path}"] = axe_problems(page)
            screenshot(page, name)
        context.close()
    # The offline verifier (a page of its own, in English, that a court saves and opens).
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    refused += watch_csp(page)
    page.goto(f"{site}/verify")
    problems["verifier /verify"] = axe_problems(page)
    screenshot(page, "verifier")
    context.close()
    assert {path: found for path, found in problems.items() if found} == {}
    assert not refused, refused
