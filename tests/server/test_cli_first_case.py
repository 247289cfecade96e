"""The README's first case, run as written: its shell block, command by command, through
`server.cli.main` in this process against a real `jitc serve`. No curl and no id typed in
full: where the README types the first characters of an id it printed (`CASE=5c1e`),
the test types the first characters of the id the server gave."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.server.cli_support import Result, clean_environment, run_jitc, serve

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "## A first case, from the command line"
FULL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHOWN_ID = re.compile(rf"\b(?:{FULL_ID.pattern}|[0-9a-f]{{8}})\b")  # full, or as tables show it
CAPTURE = re.compile(r"(\w+)=\$\((jitc .*)\)")
PREFIX = re.compile(r"(\w+)=([0-9a-f]{4,8})")
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def readme_block() -> list[str]:
    """The first ```sh block after the heading, as logical lines (continuations joined,
    comments and blank lines dropped)."""
    text = README.read_text(encoding="utf-8")
    after = text[text.index(HEADING) :]
    block = after[after.index("```sh\n") + len("```sh\n") :]
    block = block[: block.index("```")]
    lines: list[str] = []
    pending = ""
    for raw in block.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def test_the_readme_types_no_id_in_full_and_runs_only_jitc() -> None:
    lines = readme_block()
    assert not [line for line in lines if FULL_ID.search(line)]
    for line in lines:
        words = shlex.split(line, comments=True)
        assert (
            words[0] == "jitc"
            or CAPTURE.fullmatch(line.split("  #")[0].strip())
            or (PREFIX.fullmatch(words[0]) and len(words) == 1)
        ), line


class Walkthrough:
    """Runs the block's lines: `jitc ...`, `NAME=$(jitc ...)`, `NAME=<id prefix>` and
    `jitc serve &` (started as a process on a free port: JITC_SERVER names it)."""

    def __init__(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        folder: Path,
        stack: ExitStack,
    ) -> None:
        self.capsys, self.monkeypatch, self.folder, self.stack = (
            capsys,
            monkeypatch,
            folder,
            stack,
        )
        self.variables: dict[str, str] = {}
        self.last: Result | None = None
        self.ran: list[list[str]] = []

    def expand(self, word: str) -> str:
        return VARIABLE.sub(lambda m: self.variables[m[1] or m[2]], word)

    def jitc(self, line: str) -> Result:
        words = [self.expand(word) for word in shlex.split(line, comments=True)]
        assert words[0] == "jitc", line
        result = run_jitc(self.capsys, *words[1:])
        assert result.code == 0, (line, result.out, result.err)
        assert "Traceback" not in result.err
        self.ran.append(words[1:])
        return result

    def run(self, line: str) -> None:
        if line.startswith("jitc serve") and line.split("#", maxsplit=1)[0].strip().endswith("&"):
            env = {**clean_environment(), "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"]}
            url = self.stack.enter_context(serve([], env, self.folder, self.folder / "serve.log"))
            self.monkeypatch.setenv("JITC_SERVER", url)  # README: the default, port 8000
            return
        code = line.split("  #", maxsplit=1)[0].strip()
        if captured := CAPTURE.fullmatch(code):
            self.variables[captured[1]] = self.jitc(captured[2]).out.strip()
            return
        if prefix := PREFIX.fullmatch(code):
            # What a person types after reading the id the command before printed.
            assert self.last is not None
            shown = SHOWN_ID.search(self.last.out)
            assert shown is not None, (code, self.last.out)
            self.variables[prefix[1]] = shown[0][: len(prefix[2])]
            return
        self.last = self.jitc(line)


@pytest.fixture
def walkthrough(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Walkthrough]:
    for name in list(os.environ):
        if name.startswith("JITC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    with ExitStack() as stack:
        yield Walkthrough(capsys, monkeypatch, tmp_path, stack)


def test_the_readme_first_case_runs_through_the_cli_only(
    walkthrough: Walkthrough, tmp_path: Path
) -> None:
    image = os.urandom(1_500_000)
    (tmp_path / "phone.bin").write_bytes(image)
    for line in readme_block():
        walkthrough.run(line)

    commands = [" ".join(argv[:2]) for argv in walkthrough.ran]
    for step in (
        "case create",  # a case of two states
        "exhibit add",  # registered
        "upload",  # uploaded
        "share",  # shared with the other state
        "download",  # which downloads it
        "grant",  # a judge is granted access
        "export",  # a bundle is made
        "export get",  # the judge fetches it
        "verify court.zip",  # and verifies it
    ):
        assert any(c == step or c.startswith(step + " ") for c in commands), step
    # The other state's copy and the judge's bundle are the bytes the log records.
    assert (tmp_path / "copy.bin").read_bytes() == image
    assert (tmp_path / "court.zip").read_bytes() == (tmp_path / "bundle.zip").read_bytes()
    verified = walkthrough.ran.index(["verify", "court.zip", "--policy", "policy.txt"])
    assert verified == len(walkthrough.ran) - 2  # exit 0 was asserted as it ran
    timeline = walkthrough.last
    assert timeline is not None
    # The policy entries (case.policy_set, where the server logs them) are not steps here.
    lines = [line for line in timeline.lines() if "  witness policy: " not in line]
    sha256 = hashlib.sha256(image).hexdigest()
    expected = [
        ("NL/pros-eva (prosecutor)", 'opened case "Operation Tulip": parties NL, BE'),
        ("NL/tech-anna (technician)", "registered exhibit"),
        ("NL/tech-anna (technician)", f"stored the content of {walkthrough.variables['EXHIBIT']}"),
        ("NL/pros-eva (prosecutor)", "shared"),
        ("NL/pros-eva (prosecutor)", "granted judge NL/judge-bakker"),
        ("BE/inv-luc (investigator)", "read"),
        ("NL/pros-eva (prosecutor)", 'exported a full bundle for "Rechtbank Amsterdam"'),
        ("NL/pros-eva (prosecutor)", "read"),  # the bundle's download: its content
        ("NL/judge-bakker (judge)", "read"),  # the judge's, likewise
    ]
    assert len(lines) == len(expected), timeline.out
    for text, (actor, starts) in zip(lines, expected, strict=True):
        assert f"  {actor}  {starts}" in text, (text, actor, starts)
    assert f"sha256 {sha256[:16]}" in lines[2]
