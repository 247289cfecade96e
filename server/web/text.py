"""Untrusted text (labels, notes, filenames, conditions, names) made safe to show.

Autoescaping keeps markup from running; that is not enough for text that steers how the
characters around it are drawn. A right-to-left override (U+202E) turns "gpj.exe" into
what reads as "exe.jpg", and can reorder the rest of a table row. So each value is drawn
in its own bidi isolate (<bdi>, HTML 4.6 "bdi": its direction does not leak out), and
every control or format character is shown as its code point instead of being obeyed,
as the court report does (custody.report.visible).
"""

from __future__ import annotations

import unicodedata
from typing import Final

from markupsafe import Markup, escape

_HIDDEN: Final = ("Cc", "Cf", "Zl", "Zp")
_KEPT_IN_BLOCKS: Final = frozenset("\n\t")


def shown(value: object, *, block: bool = False) -> Markup:
    """`value` as text inside <bdi>, control and format characters made visible.

    With `block`, line breaks and tabs are kept (notes, conditions, descriptions; the
    element they go in has `white-space: pre-wrap`)."""
    text = "" if value is None else str(value)
    if text.isprintable():  # the usual case: nothing hidden (every category hidden is not)
        return Markup(f'<bdi dir="auto">{escape(text)}</bdi>')  # noqa: S704 - escaped
    parts: list[str] = []
    for char in text:
        if unicodedata.category(char) in _HIDDEN and not (block and char in _KEPT_IN_BLOCKS):
            parts.append(f'<span class="ctl">U+{ord(char):04X}</span>')
        else:
            parts.append(str(escape(char)))
    return Markup(f'<bdi dir="auto">{"".join(parts)}</bdi>')  # noqa: S704 - every char escaped above


def has_hidden(value: object) -> bool:
    """Whether `value` holds characters that `shown` makes visible (a warning is due)."""
    text = str(value or "")
    return not text.isprintable() and any(unicodedata.category(c) in _HIDDEN for c in text)


def plain(value: object) -> str:
    """`value` for places that take no markup (the page title): control and format
    characters spelled out, the rest left to autoescaping."""
    text = str(value or "")
    if text.isprintable():
        return text
    return "".join(f"U+{ord(c):04X}" if unicodedata.category(c) in _HIDDEN else c for c in text)
