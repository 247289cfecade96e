"""Jinja2 templates, one environment per language (gettext installed in each, so a
request never shares translation state with another), autoescaped, strict about names."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from server.web.i18n import LOCALES, translations
from server.web.text import has_hidden, plain, shown

STATIC_DIR: Final = Path(__file__).parent / "static"


@cache
def _asset_versions() -> dict[str, str]:
    """Static file -> the first hex digits of its SHA-256, for cache-busting URLs."""
    manifest = STATIC_DIR / "manifest.json"
    if manifest.is_file():
        files: dict[str, str] = json.loads(manifest.read_text("utf-8"))["files"]
        return {name: digest[:12] for name, digest in files.items()}
    return {}


def asset(name: str) -> str:
    version = _asset_versions().get(name)
    if version is None:
        path = STATIC_DIR / name
        version = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "0"
    return f"/static/{name}?v={version}"


def _environment(locale: str) -> Environment:
    env = Environment(
        loader=PackageLoader("server.web", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        shown=shown, plain=plain, has_hidden=has_hidden, asset=asset, locales=LOCALES
    )
    return env


@cache
def environment(locale: str) -> Environment:
    return _environment(locale)


def render(locale: str, name: str, context: dict[str, Any]) -> str:
    return environment(locale).get_template(name).render(context)
