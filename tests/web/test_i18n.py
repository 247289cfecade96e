"""The catalogs: every string of the workspace extracted, translated into French, German
and Dutch with its placeholders intact, and compiled into the committed .mo files."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from server.web.i18n import LOCALE_DIR, LOCALES, _negotiate
from tests.server.helpers import World, create_case
from tests.web.conftest import NewBrowser

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_0-9]+\}")
TAG = re.compile(r"</?[a-zA-Z][^>]*>|&[a-z]+;|&#\d+;")
# Strings a language writes as English does; any other msgstr equal to its msgid is a
# string left untranslated.
SAME_AS_ENGLISH: dict[str, set[str] | None] = {
    "en": None,
    "fr": {
        "Acquisition",
        "Actions",
        "Description",
        "Licence",
        "Licences",
        "Notes",
        "Pages",
        "Parties",
        "Pause",
        "Type",
        "Version",
        "{size}/s",
    },
    "de": {"Person", "Problem", "Salt", "Status", "Token", "Version", "{size}/s"},
    "nl": {"%(bytes)s bytes", "Salt", "Status", "Token", "Type", "{size}/s"},
}


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _source_messages() -> set[str]:
    method_map = [
        ("server/web/**.py", "python"),
        ("server/web/templates/**.html", "jinja2"),
    ]
    options = {"server/web/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found = extract_from_dir(
        str(ROOT),
        method_map=method_map,
        options_map=options,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
    )
    return {
        message if isinstance(message, str) else message[0] for _f, _l, message, _c, _x in found
    }


def test_the_template_holds_every_string_of_the_sources() -> None:
    template = _read(LOCALE_DIR / "messages.pot")
    assert _source_messages() == {m.id for m in template if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_each_catalog_is_complete_and_compiled(locale: str) -> None:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    catalog = _read(path)
    template = _read(LOCALE_DIR / "messages.pot")
    assert {m.id for m in catalog if m.id} == {m.id for m in template if m.id}
    for message in catalog:
        if not message.id:
            continue
        assert message.string, (locale, message.id)
        assert not message.fuzzy, (locale, message.id)
        assert sorted(PLACEHOLDER.findall(str(message.string))) == sorted(
            PLACEHOLDER.findall(str(message.id))
        ), (locale, message.id)
        assert TAG.findall(str(message.string)) == TAG.findall(str(message.id)), (
            locale,
            message.id,
        )
        same = SAME_AS_ENGLISH[locale]
        if same is not None and message.string == message.id:
            assert message.id in same, f"{locale}: untranslated {message.id!r}"
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert compiled.getvalue() == path.with_suffix(".mo").read_bytes(), f"recompile {locale}"


def test_legal_terms_use_the_standard_words() -> None:
    def text(locale: str, msgid: str) -> str:
        catalog = _read(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po")
        found = catalog.get(msgid)
        assert found is not None
        return str(found.string)

    assert text("fr", "Exhibit") == "Pièce à conviction"
    assert text("de", "Exhibit") == "Beweisstück"
    assert text("nl", "Exhibit") == "Stuk van overtuiging"
    assert "chaîne de possession" in text("fr", "Custody timeline")
    assert "Beweismittelkette" in text("de", "Custody timeline")
    assert "bewaringsketen" in text("nl", "Custody timeline")
    assert text("fr", "Disclosure") == "Communication"
    assert text("nl", "Disclosure") == "Verstrekking"
    assert "mesure de conservation" in text("fr", "Set a legal hold")
    assert "Aufbewahrungssperre" in text("de", "Set a legal hold")
    assert "Bewaarplicht" in text("nl", "Set a legal hold")
    # One word per term in a language: the old Dutch one is gone from every string.
    nl = _read(LOCALE_DIR / "nl" / "LC_MESSAGES" / "messages.po")
    assert [m.id for m in nl if m.id and "keten van bewaring" in str(m.string).lower()] == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-BE,fr;q=0.9,en;q=0.5", "fr"),
        ("de-AT", "de"),
        ("nl-BE, en;q=0.8", "nl"),
        ("en;q=0.2, nl;q=0.9", "nl"),
        ("es-ES", "en"),
        ("", "en"),
        ("*;q=x, ;;;", "en"),
    ],
)
def test_the_language_follows_accept_language(header: str, expected: str) -> None:
    assert _negotiate(header) == expected


def test_times_show_in_the_browsers_zone_with_utc_beside_them(
    new_browser: NewBrowser, world: World
) -> None:
    browser = new_browser()
    browser.sign_in(world.token("NL", "prosecutor"))
    case_id = create_case(browser.client, world, parties=("NL",))
    utc_only = browser.client.get(f"/cases/{case_id}").text
    assert re.search(r"<time datetime=\"[^\"]+\">[^<]+ UTC</time>", utc_only)
    browser.client.cookies.set("jitc-tz", "Europe%2FAmsterdam")
    page = browser.client.get(f"/cases/{case_id}?lang=nl").text
    shown = re.search(
        r"<time datetime=\"([^\"]+)\">([^<]+) (CET|CEST) <span class=\"utc\">\(([^)]+) UTC\)", page
    )
    assert shown is not None, page
    assert datetime.fromisoformat(shown[1]).tzinfo is not None
    browser.client.cookies.set("jitc-tz", "Not/AZone")
    assert " UTC</time>" in browser.client.get(f"/cases/{case_id}").text
