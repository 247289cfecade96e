"""Golden bundles: checked in, reproducible from the generator, and judged as expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.errors import CustodyError, VerificationError
from custody.verify import verify_bundle
from tests.custody.golden import generator
from tests.custody.golden.generator import EXPECTED, GOLDEN_DIR, SCENARIOS

TRUSTED = (GOLDEN_DIR / "trusted-policy.txt").read_text(encoding="utf-8")
NAMES = sorted(SCENARIOS)


def _failing(path: Path, policy: str | None) -> frozenset[str]:
    report = verify_bundle(path, policy_text=policy)
    return frozenset(check.id for check in report.checks if check.status == "fail")


def test_every_scenario_has_an_expectation_and_a_file() -> None:
    assert set(EXPECTED) == set(SCENARIOS)
    assert {path.stem for path in GOLDEN_DIR.glob("*.zip")} == set(SCENARIOS)


@pytest.mark.parametrize("name", NAMES)
def test_checked_in_bundle_is_what_the_generator_makes(name: str) -> None:
    # Compared member by member: deflate output may differ across zlib builds, content not.
    regenerated = generator.read_members(generator.render(SCENARIOS[name]()))
    checked_in = generator.read_members((GOLDEN_DIR / f"{name}.zip").read_bytes())
    assert regenerated == checked_in


def test_trusted_policy_is_what_the_generator_makes() -> None:
    assert generator.trusted_policy() == TRUSTED


@pytest.mark.parametrize("name", NAMES)
def test_verdict_with_the_bundles_own_policy(name: str) -> None:
    path = GOLDEN_DIR / f"{name}.zip"
    assert _failing(path, None) == EXPECTED[name].own_policy
    report = verify_bundle(path)
    assert report.policy_source == "bundle"
    assert len(report.warnings) == EXPECTED[name].own_warnings, report.warnings


@pytest.mark.parametrize("name", NAMES)
def test_verdict_with_the_courts_trusted_policy(name: str) -> None:
    path = GOLDEN_DIR / f"{name}.zip"
    assert _failing(path, TRUSTED) == EXPECTED[name].trusted_policy
    report = verify_bundle(path, policy_text=TRUSTED)
    assert report.policy_source == "user"
    assert len(report.warnings) == EXPECTED[name].trusted_warnings, report.warnings


@pytest.mark.parametrize("name", [n for n in NAMES if EXPECTED[n].trusted_policy])
def test_raising_mode_raises_on_the_first_failure(name: str) -> None:
    with pytest.raises(CustodyError) as caught:
        verify_bundle(GOLDEN_DIR / f"{name}.zip", policy_text=TRUSTED, raise_on_failure=True)
    assert isinstance(caught.value, VerificationError) or name.startswith("fail-1")


@pytest.mark.parametrize(
    ("name", "error", "match"),
    [
        ("fail-2-root-mismatch", "RootMismatchError", "Merkle root"),
        ("fail-2-selective-bad-proof", "InclusionProofError", "inclusion proof"),
        ("fail-3-time-reversed", "TimeReversedError", "earlier"),
        ("fail-4-exhibit-chain-broken", "ChainBrokenError", "exhibit_prev"),
        ("fail-5-quorum-not-met", "QuorumNotMetError", "quorum"),
        ("fail-5-swapped-log-key", "SignatureError", "log key"),
        ("fail-6-content-altered", "ContentMismatchError", "content"),
        ("fail-7-access-without-share", "ReplayError", "share"),
        ("fail-7-ingest-after-seal", "ReplayError", "ingested"),
        ("fail-7-event-after-disposal", "ReplayError", "disposed"),
        ("fail-7-self-granted-judge", "ReplayError", "no unrevoked grant"),
        ("fail-7-grant-for-another-state", "ReplayError", "its own courts"),
        ("fail-7-defence-outside-disclosure", "ReplayError", "does not disclose"),
        ("fail-7-hold-released-by-another-state", "ReplayError", "set a hold releases"),
        ("fail-7-disposal-under-hold", "ReplayError", "are open"),
        ("fail-7-party-removed-by-another", "ReplayError", "itself withdraws"),
        ("fail-7-party-added-without-consent", "ReplayError", "without the consent"),
        ("fail-5-policy-not-logged", "SignatureError", "newest case.policy_set"),
        ("fail-1-noncanonical-entry", "EntryFormatError", "canonical"),
    ],
)
def test_raising_mode_names_the_attack(name: str, error: str, match: str) -> None:
    with pytest.raises(CustodyError, match=match) as caught:
        verify_bundle(GOLDEN_DIR / f"{name}.zip", policy_text=TRUSTED, raise_on_failure=True)
    assert type(caught.value).__name__ == error


def test_valid_bundle_report_lists_all_seven_checks() -> None:
    report = verify_bundle(GOLDEN_DIR / "valid-full.zip", policy_text=TRUSTED)
    assert [check.id for check in report.checks] == [
        "format",
        "log",
        "time",
        "exhibit-chains",
        "signatures",
        "content",
        "replay",
    ]
    assert report.ok
    assert report.cosigners == ("BE-1", "NL-1")
    assert report.entries == report.manifest.tree_size if report.manifest else False


def test_report_html_is_in_the_bundle_and_escapes_filenames() -> None:
    members = generator.read_members((GOLDEN_DIR / "valid-full.zip").read_bytes())
    html = members["report.html"].decode("utf-8")
    # spec 6: the exporter's own account, made at export; never that the recipient verified.
    assert "the exporter's own account" in html.replace("&#x27;", "'")
    assert "At export, every check the exporter ran passed" in html
    assert "VERIFIED" not in html
    assert "verified by" not in html.lower()
    assert "Policy taken from the user" not in html
    # The handset's filename carries a right-to-left override: shown, never interpreted.
    assert "\u202e" not in html
    assert "&lt;U+202E&gt;" in html


@pytest.mark.parametrize("name", ["valid-no-witnesses", "fail-5-policy-not-logged"])
def test_report_html_says_first_that_the_bundle_rests_on_the_log_key_alone(name: str) -> None:
    members = generator.read_members((GOLDEN_DIR / f"{name}.zip").read_bytes())
    body = members["report.html"].decode("utf-8").split("<body>", 1)[1]
    first = body.lstrip().split("\n", 1)[0]
    assert "rests on the log operator&#x27;s key alone" in first, first


def test_a_report_html_checked_with_the_exporters_policy_never_says_from_the_user() -> None:
    # The server's exporter checks the bundle with the policy it wrote (policy_source
    # "user" to the verifier): the page still speaks of the exporter's policy.
    from custody.report import render_html

    path = GOLDEN_DIR / "valid-full.zip"
    policy = generator.read_members(path.read_bytes())["policy.txt"].decode()
    html = render_html(verify_bundle(path, policy_text=policy), policy_text=policy)
    assert "from the user" not in html
    assert "the case policy it put in the bundle" in html


def test_a_selective_bundle_says_which_rules_it_checked_only_in_part() -> None:
    report = verify_bundle(GOLDEN_DIR / "valid-selective.zip", policy_text=TRUSTED)
    replay = report.check("replay")
    assert replay.status == "pass"
    assert replay.detail.startswith("checked in part: ")
    assert "court and defence grants" in replay.detail
    assert "party consent" in replay.detail
    full = verify_bundle(GOLDEN_DIR / "valid-full.zip", policy_text=TRUSTED)
    assert full.check("replay").detail == ""
