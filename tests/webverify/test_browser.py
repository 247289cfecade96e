"""verify.html in headless Chromium, opened from file:// with no network: a valid bundle
passes, a tampered one fails the same numbered check as the Python verifier, a file that
is no bundle is an error, and nothing is requested but the page itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from custody.verify import verify_bundle
from tests.webverify.conftest import VERIFY_HTML

pytestmark = pytest.mark.browser

DONE = (
    '#verdict[data-verdict="pass"], #verdict[data-verdict="fail"], #verdict[data-verdict="error"]'
)


def verify_in_page(
    browser: Any, bundle: Path, policy: Path | None = None
) -> tuple[str, list[int], list[str]]:
    """Open verify.html, pick the files, verify; the verdict, failing check numbers and
    every URL the page requested."""
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(VERIFY_HTML.as_uri())
        page.get_by_label("Court bundle (ZIP file)").set_input_files(str(bundle))
        if policy is not None:
            page.get_by_label("Trusted policy (optional)").set_input_files(str(policy))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_selector(DONE, timeout=60_000)
        verdict = page.get_attribute("#verdict", "data-verdict") or ""
        failing = sorted(
            int(item.get_attribute("data-number") or 0)
            for item in page.query_selector_all('#checks > li[data-status="fail"]')
        )
        return verdict, failing, requested
    finally:
        page.close()


def python_failing(bundle: Path, policy: Path | None = None) -> list[int]:
    text = None if policy is None else policy.read_text(encoding="utf-8")
    report = verify_bundle(bundle, policy_text=text)
    return sorted(check.number for check in report.checks if check.status == "fail")


def test_the_page_is_self_contained_with_a_strict_csp() -> None:
    html = VERIFY_HTML.read_text(encoding="utf-8")
    assert "default-src 'none'" in html
    assert "connect-src 'none'" in html
    assert "<script src" not in html
    assert "<link" not in html


def test_a_valid_bundle_passes_from_file_url(chromium_page: Any, catalogue_dir: Path) -> None:
    verdict, failing, requested = verify_in_page(chromium_page, catalogue_dir / "valid-full.zip")
    assert (verdict, failing) == ("pass", [])
    assert python_failing(catalogue_dir / "valid-full.zip") == []
    assert requested == [VERIFY_HTML.as_uri()]


@pytest.mark.parametrize(
    "name", ["fail-6-content-altered", "fail-3-time-reversed", "fail-5-quorum-not-met"]
)
def test_a_tampered_bundle_fails_the_check_the_python_verifier_fails(
    chromium_page: Any, catalogue_dir: Path, name: str
) -> None:
    bundle = catalogue_dir / f"{name}.zip"
    trusted = catalogue_dir / "trusted-policy.txt"
    verdict, failing, requested = verify_in_page(chromium_page, bundle, trusted)
    assert verdict == "fail"
    assert failing == python_failing(bundle, trusted) == [int(name.split("-")[1])]
    assert requested == [VERIFY_HTML.as_uri()]


def test_a_file_that_is_no_bundle_is_an_error(chromium_page: Any, catalogue_dir: Path) -> None:
    verdict, failing, _ = verify_in_page(
        chromium_page, catalogue_dir / "hostile-deflate-bomb-declared.zip"
    )
    assert (verdict, failing) == ("error", [])


def test_a_bundle_on_the_operators_key_alone_says_so_first(
    chromium_page: Any, catalogue_dir: Path
) -> None:
    """spec 6: quorum none; the report's first line says the bundle rests on the log
    operator's key alone, above the verdict; a witnessed bundle has no such line."""
    page = chromium_page.new_page()
    try:
        page.goto(VERIFY_HTML.as_uri())
        for name, operator_only in (("valid-no-witnesses.zip", True), ("valid-full.zip", False)):
            page.get_by_label("Court bundle (ZIP file)").set_input_files(str(catalogue_dir / name))
            page.get_by_role("button", name="Verify").click()
            page.wait_for_selector('#verdict[data-verdict="pass"]', timeout=60_000)
            first = page.inner_text("#result").strip().splitlines()[0]
            if operator_only:
                assert "rests on the log operator's key alone" in first
            else:
                assert first.startswith("VERIFIED")
            page.evaluate("document.getElementById('verdict').dataset.verdict = ''")
    finally:
        page.close()
