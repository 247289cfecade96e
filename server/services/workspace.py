"""The workspace: configuration, database, log key, token verifier and group committer.

Built once per process (`Workspace.open`), shared by the HTTP app and the CLI.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine

from evidence import BlobStore, open_store
from server import migrate
from server.auth import KeyStore, Principal, RevocationList, TokenVerifier
from server.config import Settings
from server.db import make_engine
from server.logkey import load_or_create_seed
from server.services.committer import Committer
from server.services.custody_log import CheckpointSigner
from server.services.leases import DatabaseLeaseBook


@dataclass(eq=False)
class ExportBudget:
    """Disk held by the exports this process is writing, and which of them are written in
    the background (server.services.exports). Per process: the disk is this server's
    (the slots that bound exports across servers are leases, server.services.leases)."""

    reserved: int = 0
    running: set[str] = field(default_factory=set)
    """Ids of the exports this process writes in the background (Prefer: respond-async)."""
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(eq=False)
class Workspace:
    settings: Settings
    engine: Engine
    signer: CheckpointSigner
    committer: Committer
    verifier: TokenVerifier
    leases: DatabaseLeaseBook
    """Exclusion between every process on this database: the store's and the server's."""
    # The evidence store, opened from settings on first use, prepared once.
    _store: BlobStore | None = field(default=None, repr=False)
    _store_ready: bool = field(default=False, repr=False)
    _store_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    export_budget: ExportBudget = field(default_factory=ExportBudget, repr=False)

    @property
    def store(self) -> BlobStore:
        """The evidence store (JITC_STORE_URL), its directories or buckets created. Its
        leases are the database's, so the processes of every app server exclude each
        other (ADR 0025, 0036)."""
        with self._store_lock:
            if self._store is None:
                self._store = open_store(self.settings.evidence_url, leases=self.leases)
            if not self._store_ready:
                self._store.prepare()
                self._store_ready = True
            return self._store

    def use_store(self, store: BlobStore) -> None:
        """Use `store` instead of the configured one (tests, tools)."""
        with self._store_lock:
            self._store, self._store_ready = store, False

    @classmethod
    def open(cls, settings: Settings, *, engine: Engine | None = None) -> Workspace:
        """Open the workspace; refuse a database behind the latest migration.

        The embedded default (SQLite under JITC_DATA_DIR) upgrades itself instead."""
        engine = engine or make_engine(settings)
        try:
            if settings.embedded:
                migrate.upgrade(engine)
            migrate.check_schema(engine)
            signer = CheckpointSigner(settings.log_name, load_or_create_seed(settings))
        except BaseException:
            engine.dispose()
            raise

        revocations = RevocationList(engine, refresh_seconds=settings.revocation_refresh)
        verifier = TokenVerifier(
            audience=settings.log_name, keys=KeyStore(engine), is_revoked=revocations.is_revoked
        )
        return cls(
            settings=settings,
            engine=engine,
            signer=signer,
            committer=Committer(engine, signer),
            verifier=verifier,
            leases=DatabaseLeaseBook(engine),
        )

    def authenticate(self, token: str | None, *, remote: str | None = None) -> Principal:
        return self.verifier.verify(token, remote=remote)

    def close(self) -> None:
        self.engine.dispose()
