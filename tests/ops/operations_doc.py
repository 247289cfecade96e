"""Reading docs/operations.md: its runnable shell blocks and its variable tables."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.ops.conftest import ROOT

DOC = ROOT / "docs" / "operations.md"
RUNNABLE = "sh test"  # the info string of a block the tests run
VARIABLE = re.compile(r"`(JITC_[A-Z0-9]+(?:_[A-Z0-9]+)*)`")
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Block:
    line: int
    text: str


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def runnable_blocks() -> list[Block]:
    text = doc_text()
    return [
        Block(line=text.count("\n", 0, match.start()) + 1, text=match.group("body"))
        for match in FENCE.finditer(text)
        if match.group("info").split() == RUNNABLE.split()
    ]


def _tables(text: str) -> list[list[str]]:
    """Each markdown table as its lines, in order."""
    tables: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def documented_variables(introduced_by: str | None = None) -> set[str]:
    """The JITC_ variables that have a row (named in its first cell) in the doc's tables;
    with `introduced_by`, only in the first table after that text."""
    text = doc_text()
    if introduced_by is not None:
        assert introduced_by in text, f"docs/operations.md no longer says {introduced_by!r}"
        tables = _tables(text.split(introduced_by, 1)[1])[:1]
    else:
        tables = _tables(text)
    names: set[str] = set()
    for table in tables:
        for row in table[2:]:  # after the header and its rule
            names.update(VARIABLE.findall(row.split("|")[1]))
    return names
