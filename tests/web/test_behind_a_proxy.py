"""Whose X-Forwarded-Proto `jitc serve` believes: only JITC_WEB_TRUSTED_PROXIES' addresses.

uvicorn's own default believes any process on 127.0.0.1, before the app's setting is
asked: a local process could then make the session cookie Secure (so a plain-HTTP
workspace loses its sign-ins) and put any client address in the security log.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from server import migrate
from server.cli.admin import proxy_options
from tests.server.cli_support import clean_environment, serve
from tests.server.conftest import LOG_NAME

pytestmark = pytest.mark.slow


def _cookie_answer(tmp_path: Path, extra: dict[str, str]) -> str:
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    engine = create_engine(f"sqlite:///{data_dir / 'jitc.sqlite3'}")
    migrate.upgrade(engine)
    engine.dispose()
    env = {
        **clean_environment(),
        "JITC_DATA_DIR": str(data_dir),
        "JITC_LOG_NAME": LOG_NAME,
        **extra,
    }
    with serve([], env, tmp_path, tmp_path / "server.log") as url:
        answer = httpx.get(url + "/sign-in", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert answer.status_code == 200
    cookies = [h for h in answer.headers.get_list("set-cookie") if "jitc-session=" in h]
    assert len(cookies) == 1, cookies
    return cookies[0]


def test_a_forwarded_https_from_loopback_is_not_believed_by_default(tmp_path: Path) -> None:
    cookie = _cookie_answer(tmp_path, {})
    assert cookie.startswith("jitc-session=")
    assert "secure" not in cookie.lower()


def test_a_listed_proxy_is_believed(tmp_path: Path) -> None:
    cookie = _cookie_answer(tmp_path, {"JITC_WEB_TRUSTED_PROXIES": "127.0.0.1"})
    assert cookie.startswith("__Host-jitc-session=")
    assert "secure" in cookie.lower()


def test_the_uvicorn_options_follow_the_one_setting() -> None:
    assert proxy_options(frozenset()) == (False, None)
    assert proxy_options(frozenset({"10.0.0.2", "10.0.0.1"})) == (True, "10.0.0.1,10.0.0.2")
