"""In a real browser: a link to the workspace followed from another site.

The session cookie is SameSite=Strict, so Chromium does not send it on that navigation;
the server must not answer it with a fresh anonymous session cookie, which the browser
stores over the signed-in one (tests/web/test_signin_expiry.py has the same at the HTTP
level).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.server.helpers import World
from tests.web.browser import person
from tests.web.test_browser import browser, site

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

__all__ = ["browser", "site"]

pytestmark = pytest.mark.slow


def test_a_link_from_another_site_leaves_the_user_signed_in(
    site: str, browser: Browser, world: World
) -> None:
    context, page, refused = person(browser, site, world.token("NL", "prosecutor"))

    def mail(route: Route) -> None:
        route.fulfill(
            status=200,
            content_type="text/html",
            body=f'<!doctype html><a id="go" href="{site}/cases">the case</a>',
        )

    page.route("http://mail.example/", mail)
    page.goto("http://mail.example/")
    page.click("#go")
    # The link lands on the page itself, signed in: the answer to the cross-site
    # navigation loads it again from the workspace's own origin, which carries the cookie.
    page.wait_for_url(f"{site}/cases")
    page.wait_for_selector("form[action='/sign-out']")
    # The user then opens the workspace as usual (a bookmark, the address bar).
    page.goto(f"{site}/cases")
    assert page.url == f"{site}/cases", page.url
    assert not refused, refused
    context.close()
