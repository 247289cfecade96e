"""Opening an existing workspace for the commands that serve one (`audit`, `scrub`,
`log-key`, `token revoke`, `jurisdiction …`): they never create a database or a log key.
With none found they say which setting (JITC_DATA_DIR or JITC_DATABASE_URL) to set, and
exit 2. Only `jitc serve` and `jitc db upgrade` create.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from server import migrate
from server.cli.guard import EXIT_CONFIG, CommandError
from server.config import Settings
from server.db import make_engine
from server.services.workspace import Workspace

_WHERE = "set JITC_DATA_DIR to the server's data directory"


def existing_settings(*, log_key: bool = False) -> Settings:
    """The settings, refused (CommandError) unless they find an existing database (and,
    with `log_key`, the log key) without creating anything."""
    settings = Settings.from_env()
    if settings.is_sqlite:
        path = Path(settings.database_url.removeprefix("sqlite:///"))
        if not path.is_file():
            where = (
                f"{_WHERE} (now {settings.data_dir}), or JITC_DATABASE_URL to its database"
                if settings.embedded
                else "set JITC_DATABASE_URL to the server's database"
            )
            raise CommandError(f"no workspace database at {path}: {where}", EXIT_CONFIG)
    if log_key and settings.log_key is None and not settings.log_key_path.is_file():
        raise CommandError(
            f"no log key at {settings.log_key_path}: {_WHERE} (or JITC_LOG_KEY to the key); "
            "only `jitc serve` creates one",
            EXIT_CONFIG,
        )
    return settings


def open_existing_engine(settings: Settings) -> Engine:
    """An engine on the workspace's database, refused if it holds no workspace. The
    embedded SQLite database is upgraded, as the server would at start."""
    engine = make_engine(settings)
    try:
        try:
            current = migrate.current_revision(engine)
        except OperationalError as exc:
            raise CommandError(
                f"cannot open the database of JITC_DATABASE_URL: {_first_line(exc)}", EXIT_CONFIG
            ) from None
        if current is None:
            raise CommandError(
                "the database holds no workspace: set JITC_DATABASE_URL to the server's "
                "database (`jitc db upgrade` makes a new one)",
                EXIT_CONFIG,
            )
        if settings.embedded:
            migrate.upgrade(engine)
        migrate.check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def open_existing_workspace() -> Workspace:
    settings = existing_settings(log_key=True)
    return Workspace.open(settings, engine=open_existing_engine(settings))


def _first_line(exc: OperationalError) -> str:
    return str(exc.orig or exc).strip().splitlines()[0]
