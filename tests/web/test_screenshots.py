"""The README shows the screenshots of docs/screenshots (taken by the browser tests with
JITC_SCREENSHOTS): each picture it links exists and is a real, reasonably small PNG, and
each picture there is shown or linked."""

from __future__ import annotations

import re
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
LINKED = re.compile(r"""(?:src="|\]\()(docs/screenshots/[^")\s]+)""")
MAX_BYTES = 400_000
"""A full page at 1280 px wide, quantised; a larger file is a page worth a look."""


def _linked() -> list[str]:
    return LINKED.findall((ROOT / "README.md").read_text("utf-8"))


def test_every_picture_the_readme_shows_exists_and_is_a_real_png() -> None:
    linked = _linked()
    assert len(linked) >= 12
    for link in linked:
        path = ROOT / link
        assert path.is_file(), link
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", link
        width, height = struct.unpack(">II", data[16:24])  # IHDR
        assert width >= 1000, (link, width)
        assert height >= 400, (link, height)
        assert len(data) <= MAX_BYTES, (link, len(data))


def test_every_screenshot_is_in_the_readme() -> None:
    shown = {Path(link).name for link in _linked()}
    assert {path.name for path in SHOTS.glob("*.png")} == shown
