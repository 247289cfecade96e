"""Languages and the user's locale: gettext catalogs (Babel), negotiation, formatting.

The language is, in order: `?lang=` (remembered in a cookie), the cookie, the browser's
Accept-Language, English. Times are shown in the user's time zone when the browser has
told it (a cookie set by app.js), with UTC beside them; otherwise in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Final
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from starlette.requests import Request

LOCALES: Final = ("en", "fr", "de", "nl")
DEFAULT_LOCALE: Final = "en"
LANG_COOKIE: Final = "jitc-lang"
TZ_COOKIE: Final = "jitc-tz"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
DOMAIN: Final = "messages"
_TZ_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-/]{0,63}")


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of `locale` (English is the source language; its catalog lets
    the English wording change without touching the templates)."""
    return Translations.load(str(LOCALE_DIR), [locale], DOMAIN)


def chosen_locale(request: Request) -> tuple[str, bool]:
    """The locale for this request, and whether it came from `?lang=` (to remember it)."""
    asked = request.query_params.get("lang")
    if asked in LOCALES:
        return asked, True
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LOCALES:
        return cookie, False
    header = request.headers.get("accept-language", "")
    return _negotiate(header), False


def _negotiate(header: str) -> str:
    wanted: list[tuple[float, str]] = []
    for index, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            wanted.append((quality - index * 1e-6, tag.strip().replace("_", "-")))
    wanted.sort(reverse=True)
    found = Locale.negotiate([tag for q, tag in wanted if q > 0], LOCALES, sep="-")
    return str(found) if found is not None else DEFAULT_LOCALE


def user_zone(request: Request) -> ZoneInfo | None:
    # app.js writes the zone URI-encoded ("Europe%2FAmsterdam"): cookie values hold no "/".
    name = unquote(request.cookies.get(TZ_COOKIE) or "")
    if not name or _TZ_NAME.fullmatch(name) is None or name == "UTC":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class Formats:
    """Numbers, sizes and times for one locale and time zone (used by the templates)."""

    def __init__(self, locale: str, zone: ZoneInfo | None) -> None:
        self.locale = locale
        self.zone = zone

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.locale)

    def size(self, value: int) -> str:
        """Bytes in decimal units (what operating systems show for files), and exactly."""
        units = ("B", "kB", "MB", "GB", "TB")
        amount = float(value)
        unit = 0
        while amount >= 1000 and unit < len(units) - 1:
            amount /= 1000
            unit += 1
        shown = format_decimal(round(amount, 1), format="#,##0.#", locale=self.locale)
        return f"{shown} {units[unit]}"

    def utc(self, value: datetime) -> str:
        return format_datetime(
            value.astimezone(UTC), "medium", tzinfo=UTC, locale=self.locale
        ).replace("\u202f", " ")

    def local(self, value: datetime) -> str | None:
        """The time in the user's zone (None when it is unknown: UTC alone is shown)."""
        if self.zone is None:
            return None
        return format_datetime(value, "medium", tzinfo=self.zone, locale=self.locale).replace(
            "\u202f", " "
        )

    def zone_name(self, value: datetime) -> str:
        if self.zone is None:
            return "UTC"
        return value.astimezone(self.zone).tzname() or str(self.zone)


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time from an entry or a view (None if it is not one)."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
