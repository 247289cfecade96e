"""`jitc ... --help` says what every option is: the whole parser, every area, walked."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server import cli
from tests.server.test_commands import VERIFIER_ONLY

REPO = Path(__file__).resolve().parents[2]


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every parser of every command and subcommand, with its command line."""
    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        found.append((path, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")

    for area in cli.AREAS:
        walk(cli.build_parser(area), "jitc")
    return found


def test_every_option_and_argument_of_every_command_has_help() -> None:
    missing = sorted(
        {
            f"{path}: {'/'.join(action.option_strings) or action.dest}"
            for path, parser in _parsers()
            for action in parser._actions
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
            and not (action.help or "").strip()
        }
    )
    assert missing == []
    commands = {path for path, _ in _parsers()}
    assert len(commands) > 50  # every area was registered and walked
    assert {"jitc case create", "jitc exhibit add", "jitc serve", "jitc verify"} <= commands


def test_every_subcommand_has_a_summary() -> None:
    missing = sorted(
        f"{path} {choice.dest}"
        for path, parser in _parsers()
        if path != "jitc"  # the top level's summaries are the AREAS table
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
        if not (choice.help or "").strip()
    )
    assert missing == []


def test_help_of_each_command_prints_without_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    for path, _parser in _parsers():
        argv = path.split()[1:]
        if not argv:
            continue
        with pytest.raises(SystemExit) as stop:
            cli.main([*argv, "--help"])
        assert stop.value.code == 0, path
        assert capsys.readouterr().out.startswith(f"usage: {path}")


@pytest.mark.parametrize(
    "argv",
    [
        ["login"],
        ["case", "list"],
        ["exhibit", "add", "--help"],
        ["share", "c", "e", "--with", "BE"],
        ["log", "c"],
        ["export", "list", "c"],
        ["policy", "show", "c"],  # its parser loads nothing of the server; running it does
    ],
)
def test_a_verifier_only_install_names_the_extra_the_client_commands_need(
    argv: list[str],
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", VERIFIER_ONLY, *argv],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == cli.EXIT_NOT_INSTALLED, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"jitc {argv[0]}")
    assert ": this command needs the server: pip install 'jit-custody[server]'" in result.stderr
    assert len(result.stderr.splitlines()) == 1
