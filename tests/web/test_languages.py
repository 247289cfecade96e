"""Every page, every section filled in (tests/web/tour.py), read in French, German and
Dutch: no English sentence of the catalogs is left on any of them, and every time is shown
in the reader's zone and language with UTC beside it."""

from __future__ import annotations

import html
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from babel.messages.pofile import read_po
from starlette.applications import Starlette
from starlette.routing import Route

from server.services.workspace import Workspace
from server.web.i18n import LOCALE_DIR
from server.web.pages import page_routes
from tests.server.helpers import World
from tests.server.witnesses import Witnesses
from tests.web.conftest import Browser, NewBrowser
from tests.web.test_i18n import SAME_AS_ENGLISH
from tests.web.tour import Tour, build_tour, witnessed_app, witnesses_for

ZONE = "Europe/Amsterdam"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_0-9]+\}")
TIME = re.compile(r"<time datetime=\"([^\"]+)\">(.*?)</time>", re.S)
SHOWN = re.compile(r"(.+) (CET|CEST) <span class=\"utc\">\((.+) UTC\)</span>", re.S)
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
TAGS = re.compile(r"<[^>]*>")
SPOKEN_ATTRIBUTES = re.compile(r'\b(?:aria-label|data-confirm|title|placeholder|alt)="([^"]*)"')
MIN_CHARS = 8
"""Shorter English strings ("Type", "Size") are too often words of the data as well."""
RAW_BLOCKS = re.compile(r"<(details|pre|script)\b.*?</\1>", re.S)
"""The entry's recorded data, the signed note and the policy are shown as recorded."""

# Words of each page (the older sections' and the newest ones'), which a missing string
# in the catalogs alone would not reveal: the page itself must show them.
EXPECTED = {
    "fr": {
        "cases": ["Affaires"],
        "case-new": ["Ouvrir l'affaire"],
        "case": [
            "Pièces à conviction",
            "Parties proposées",
            "Approuver BE comme partie",
            "Accès du tribunal et de la défense",
            "Pièces communiquées",
            "Témoins et politique",
            "Dernière taille contresignée",
            "La politique de l'affaire (tlog-policy)",
        ],
        "exhibit": [
            "Chaîne de possession de cette pièce",
            "Mesures de conservation",
            "Lever la mesure de conservation",
            "en vigueur",
        ],
        "exhibit-disposed": ["les octets restent conservés jusqu'au"],
        "exhibit-new": ["Enregistrer une pièce à conviction"],
        "exhibit-upload": ["Aucune mesure de conservation", "Téléverser le contenu"],
        "timeline": ["Chronologie de la chaîne de possession", "Dernier point de contrôle"],
        "entry-proof": ["Preuve que cette entrée figure dans le journal"],
        "notes": ["Nouvelle note", "Vérifier cette note avec le journal", "Sel"],
        "exports": ["Établir un dossier", "Communication"],
        "export": ["SHA-256 du dossier", "aucun : chaque témoin a contresigné"],
        "export-short": [
            "Ce dossier s'arrête avant la dernière entrée",
            "Témoins qui n'avaient pas contresigné le dernier point de contrôle",
        ],
        "verify-bundle": ["Vérifier un dossier pour le tribunal"],
        "licences": ["Licences des logiciels de cette page"],
        "defence-case": ["Accès du tribunal et de la défense"],
        "not-found": ["Cette affaire n'existe pas."],
    },
    "de": {
        "case": ["Vorgeschlagene Staaten", "Beteiligung von BE zustimmen", "Zeugen und Richtlinie"],
        "exhibit": ["Aufbewahrungssperren", "Aufbewahrungssperre aufheben"],
        "export-short": ["Dieses Paket endet vor dem neuesten Eintrag"],
    },
    "nl": {
        "case": ["Voorgestelde partijen", "BE als partij goedkeuren", "Getuigen en beleid"],
        "exhibit": ["Bewaarplichten", "Bewaarplicht opheffen", "Bewaringsketen van dit stuk"],
        "export-short": ["Deze bundel stopt vóór de nieuwste vermelding"],
    },
}
SIGN_IN = {"fr": "Se connecter", "de": "Anmelden", "nl": "Aanmelden"}
SIGN_OUT = {"fr": "Se déconnecter", "de": "Abmelden", "nl": "Afmelden"}
ACCEPT = {"fr": "fr-BE,fr;q=0.9,en;q=0.5", "de": "de-AT,de;q=0.9", "nl": "nl-NL,nl;q=0.9,en;q=0.2"}


@pytest.fixture
def witnesses(workspace: Workspace, world: World, tmp_path: Path) -> Witnesses:
    assert {"NL", "FR"} <= world.keys.keys()  # registered states, before their witnesses
    return witnesses_for(workspace, tmp_path)


@pytest.fixture
def app(workspace: Workspace, witnesses: Witnesses) -> Starlette:
    return witnessed_app(workspace, witnesses)


@pytest.fixture
def tour(
    new_browser: NewBrowser,
    app: Starlette,
    world: World,
    workspace: Workspace,
    witnesses: Witnesses,
) -> Tour:
    client = new_browser().client
    return build_tour(client.request, app.state.runtime, world, workspace, witnesses)


@cache
def _catalog(locale: str) -> dict[str, str]:
    """msgid -> msgstr as the catalog holds it ("" when untranslated: no English fallback)."""
    name = "messages.pot" if locale == "pot" else f"{locale}/LC_MESSAGES/messages.po"
    with (LOCALE_DIR / name).open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


def english_left(page: str, locale: str) -> set[str]:
    """The English strings of the catalog (or their parts between placeholders) that a
    page rendered in `locale` still shows, as text or in the attributes a reader meets
    (labels, confirmations, titles): each is a string left untranslated, in the catalog
    or on its way to the page."""
    catalog = _catalog(locale)
    same = SAME_AS_ENGLISH[locale] or set()
    text = html.unescape(TAGS.sub(" ", page))
    spoken = {html.unescape(value) for value in SPOKEN_ATTRIBUTES.findall(page)}
    left = set()
    for msgid in _catalog("pot"):
        if msgid in same:
            continue
        translated = catalog.get(msgid, "")
        if msgid in spoken:
            left.add(msgid)
        for fragment in PLACEHOLDER.split(msgid):
            words = fragment.strip(" .,:;()")
            if len(words) < MIN_CHARS or (translated != msgid and words in translated):
                continue  # short, or a name the translation keeps ("SHA-256 of the bundle")
            # A whole word or phrase, not part of an entry type ("exhibit.registered").
            if re.search(rf"(?<![\w.-]){re.escape(words)}(?![\w-]|\.\w)", text):
                left.add(words)
    return left


def times_problems(page: str, locale: str) -> tuple[int, list[str]]:
    """How many times the page shows, and each that is not in the reader's zone and
    language with UTC beside it, or that is shown outside a <time> element."""
    zone = ZoneInfo(ZONE)
    problems = []
    found = TIME.findall(page)
    for stamp, markup in found:
        shown = html.unescape(markup)
        at = datetime.fromisoformat(stamp)
        parts = SHOWN.fullmatch(shown)
        if at.tzinfo is None or parts is None:
            problems.append(f"{stamp}: {shown}")
            continue
        local = format_datetime(at, "medium", tzinfo=zone, locale=locale).replace("\u202f", " ")
        utc = format_datetime(at, "medium", tzinfo=ZoneInfo("UTC"), locale=locale)
        if (parts[1], parts[2], parts[3]) != (
            local,
            at.astimezone(zone).tzname(),
            utc.replace("\u202f", " "),
        ):
            problems.append(f"{stamp}: {shown}")
    bare = RAW_BLOCKS.sub("", TIME.sub("", page))
    problems += [f"outside <time>: {m}" for m in ISO_TIME.findall(bare)]
    return len(found), problems


def _person(
    new_browser: NewBrowser, world: World, who: tuple[str, str, str | None], locale: str
) -> Browser:
    browser = new_browser()
    if locale != "en":
        browser.client.headers["Accept-Language"] = ACCEPT[locale]
    browser.client.cookies.set("jitc-tz", ZONE.replace("/", "%2F"))
    code, role, sub = who
    browser.sign_in(world.token(code, role, sub))
    return browser


def _walk(tour: Tour, new_browser: NewBrowser, world: World, locale: str) -> dict[str, str]:
    """Every page of the tour, by its name, as its person reads it in `locale`."""
    pages = {}
    for who, visits in tour.visits().items():
        browser = _person(new_browser, world, who, locale)
        for path, name in visits:
            answer = browser.client.get(path)
            expected = 404 if name == "not-found" else 200
            assert answer.status_code == expected, (who, path, answer.text[:300])
            pages[name] = answer.text
    return pages


NOT_PAGES = {"/", "/cases/{case_id}/log/{seq}/proof.json"}
"""GET routes that answer no page: a redirect, and a proof as JSON."""


def test_the_tour_visits_every_page_the_workspace_serves() -> None:
    tour = Tour("c", "x", "b", "d", "e", "s", 1)
    visited = ["/sign-in"] + [
        path.split("?")[0] for visits in tour.visits().values() for path, _name in visits
    ]
    for route in page_routes():
        if not isinstance(route, Route) or "GET" not in (route.methods or ()):
            continue
        if route.path in NOT_PAGES:
            continue
        assert any(route.path_regex.fullmatch(path) for path in visited), route.path


@pytest.mark.parametrize("locale", ["fr", "de", "nl"])
def test_every_page_renders_in_the_language_with_no_english_left(
    tour: Tour, new_browser: NewBrowser, world: World, locale: str
) -> None:
    anonymous = new_browser()
    anonymous.client.headers["Accept-Language"] = ACCEPT[locale]
    sign_in = anonymous.client.get("/sign-in").text
    pages = {"sign-in": sign_in, **_walk(tour, new_browser, world, locale)}
    assert SIGN_IN[locale] in sign_in
    for name, page in pages.items():
        assert f'<html lang="{locale}"' in page, name
        assert english_left(page, locale) == set(), name
        assert "Sign out" not in page, name
        if name not in ("sign-in", "not-found"):  # an error page shows no identity
            assert SIGN_OUT[locale] in page, name
    for name, words in EXPECTED[locale].items():
        for expected in words:
            assert expected in html.unescape(pages[name]), (name, expected)


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_every_time_shows_in_the_readers_zone_with_utc_beside_it(
    tour: Tour, new_browser: NewBrowser, world: World, locale: str
) -> None:
    pages = _walk(tour, new_browser, world, locale)
    counted = {}
    for name, page in pages.items():
        counted[name], problems = times_problems(page, locale)
        assert problems == [], name
    showing = {name for name, count in counted.items() if count}
    assert showing >= {
        "cases",
        "case",
        "exhibit",
        "exhibit-disposed",  # the retention date too
        "timeline",
        "entry-proof",
        "notes",
        "exports",
        "export",
        "defence-case",
    }
    if locale == "en":  # the retention date is one of the times, not a raw ISO string
        assert "retention keeps the bytes until <time datetime=" in pages["exhibit-disposed"]
