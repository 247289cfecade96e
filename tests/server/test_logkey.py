"""The log's Ed25519 key: created once with mode 0600, or taken from JITC_LOG_KEY."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from custody.note import NoteSigner
from server.config import Settings
from server.errors import LogKeyError
from server.logkey import load_or_create_seed


def _settings(tmp_path: Path, log_key: str | None = None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url="sqlite:///unused",
        embedded=False,
        log_name="jitc.test",
        log_key=log_key,
    )


def test_created_on_first_start_with_mode_0600_then_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    seed = load_or_create_seed(settings)
    assert len(seed) == 32
    assert settings.log_key_path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_seed(settings) == seed


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    load_or_create_seed(settings)
    os.chmod(settings.log_key_path, 0o644)
    with pytest.raises(LogKeyError, match="0600"):
        load_or_create_seed(settings)


def test_from_environment(tmp_path: Path) -> None:
    seed = bytes(range(32))
    settings = _settings(tmp_path, base64.b64encode(seed).decode())
    assert load_or_create_seed(settings) == seed
    assert not settings.log_key_path.exists()
    vkey = NoteSigner.from_seed("jitc.test", seed).vkey()
    assert vkey.startswith("jitc.test+")


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_bad_environment_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(LogKeyError, match="JITC_LOG_KEY"):
        load_or_create_seed(_settings(tmp_path, value))
