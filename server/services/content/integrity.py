"""Is the stored content still what was ingested? POST …/verify re-reads one exhibit;
`jitc scrub` re-reads them all. Each re-read is logged as exhibit.verified, failed or not,
and the store's legal hold is kept equal to the exhibit's."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from custody.entry import SYSTEM_ACTOR, Actor
from evidence import (
    Digests,
    ExhibitKey,
    ObjectNotFoundError,
    StorageUnavailableError,
    exhibit_key,
    hash_chunks,
)
from server.auth import Principal
from server.db import read_transaction
from server.errors import BusyError, ConflictError
from server.permissions import Action
from server.repositories import content as content_repo
from server.repositories import exhibits as exhibit_repo
from server.services.content.access import exhibit_for, present_content
from server.services.custody_log import CaseLog
from server.services.leases import VERIFY_SLOT, verify_lease
from server.services.workspace import Workspace

log = logging.getLogger("jitc.content")

VERIFY_RETRY_AFTER: Final = 10


@dataclass(frozen=True, slots=True)
class Verified:
    seq: int
    ok: bool
    digests: Digests | None
    recorded: content_repo.ContentRow

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": "exhibit.verified",
            "ok": self.ok,
            "size": None if self.digests is None else self.digests.size,
            "sha256": None if self.digests is None else self.digests.sha256_hex,
            "blake3": None if self.digests is None else self.digests.blake3_hex,
            "recorded": {
                "size": self.recorded.size,
                "sha256": self.recorded.sha256,
                "blake3": self.recorded.blake3,
            },
        }


def rehash(ws: Workspace, key: ExhibitKey) -> Digests | None:
    """The stored object's hashes, re-read; None if the store holds no object."""
    try:
        return ws.store.rehash(key)
    except ObjectNotFoundError:
        return None


def _log_verified(
    ws: Workspace, actor: Actor, content: content_repo.ContentRow, digests: Digests | None
) -> Verified:
    ok = (
        digests is not None
        and digests.size == content.size
        and digests.sha256_hex == content.sha256
        and digests.blake3_hex == content.blake3
    )
    found = digests or hash_chunks([])

    def work(log: CaseLog) -> int:
        data: dict[str, object] = {
            "ok": ok,
            "sha256": found.sha256_hex,
            "blake3": found.blake3_hex,
            "size": found.size,
        }
        if digests is None:
            data["missing"] = True  # the store holds no object: hashes are of no bytes
        entry = log.append(actor, "exhibit.verified", exhibit=content.exhibit_id, data=data)
        return entry.seq

    seq = ws.committer.run(content.case_id, work)
    if not ok:
        log.error(
            "STORAGE ALTERED: exhibit %s of case %s no longer has its ingested hashes",
            content.exhibit_id,
            content.case_id,
        )
    return Verified(seq, ok, digests, content)


def verify(ws: Workspace, principal: Principal, case_id: str, exhibit_id: str) -> Verified:
    """POST …/verify: re-read the object, recompute both hashes, log exhibit.verified."""
    with read_transaction(ws.engine) as conn:
        exhibit_for(conn, principal, case_id, exhibit_id, Action.CONTENT_VERIFY)
        content = present_content(conn, exhibit_id)
    with _verifying(ws, exhibit_id):
        digests = rehash(ws, exhibit_key(case_id, exhibit_id))
    return _log_verified(ws, principal.actor(), content, digests)


@contextlib.contextmanager
def _verifying(ws: Workspace, exhibit_id: str) -> Iterator[None]:
    """A re-read of `exhibit_id`: one per exhibit (409), JITC_MAX_CONCURRENT_VERIFIES in
    all (503), so repeated requests cannot keep the store busy re-reading GiBs. Both are
    leases, so they hold across every app server of the database."""
    mine = ws.leases.try_acquire(verify_lease(exhibit_id))
    if mine is None:
        raise ConflictError(
            "this exhibit is being re-verified; its exhibit.verified entry follows",
            code="verification_in_progress",
        )
    try:
        limit = ws.settings.max_concurrent_verifies
        slot = ws.leases.take_slot(VERIFY_SLOT, limit)
        if slot is None:
            raise BusyError(
                f"{limit} re-verification(s) are running; retry shortly",
                retry_after=VERIFY_RETRY_AFTER,
                code="verifications_busy",
            )
        try:
            yield
        finally:
            slot.release()
    finally:
        mine.release()


@dataclass
class ScrubReport:
    checked: int = 0
    ok: int = 0
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    holds_fixed: int = 0
    """Objects whose legal hold differed from the exhibit's, and were set to match it."""


def scrub(ws: Workspace, *, progress: Callable[[Verified], None] | None = None) -> ScrubReport:
    """`jitc scrub`: re-verify every stored exhibit as the system, log each result."""
    report = ScrubReport()
    with read_transaction(ws.engine) as conn:
        contents = [c for c in content_repo.all_present(conn) if not c.disposed]
    for content in contents:
        digests = rehash(ws, exhibit_key(content.case_id, content.exhibit_id))
        result = _log_verified(ws, SYSTEM_ACTOR, content, digests)
        report.checked += 1
        if result.ok:
            report.ok += 1
        elif digests is None:
            report.missing.append(f"{content.case_id}/{content.exhibit_id}")
        else:
            report.altered.append(f"{content.case_id}/{content.exhibit_id}")
        if digests is not None and _resync_hold(ws, content):
            report.holds_fixed += 1
        if progress is not None:
            progress(result)
    return report


def _resync_hold(ws: Workspace, content: content_repo.ContentRow) -> bool:
    """Give the object the exhibit's legal hold if a failed store call left them apart."""
    with read_transaction(ws.engine) as conn:
        exhibit = exhibit_repo.get(conn, content.case_id, content.exhibit_id)
    if exhibit is None:
        return False
    key = exhibit_key(content.case_id, content.exhibit_id)
    if ws.store.legal_hold(key) == exhibit.legal_hold:
        return False
    log.warning("legal hold of %s differed from its exhibit's: set to %s", key, exhibit.legal_hold)
    ws.store.set_legal_hold(key, exhibit.legal_hold)
    return True


def sync_store_hold(ws: Workspace, case_id: str, exhibit_id: str, *, on: bool) -> None:
    """Mirror the exhibit's legal hold onto its stored object, when there is one.

    Called after the hold entry committed: the database flag is what disposal checks. A
    store that fails here is logged, and `jitc scrub` sets the object's hold to match."""
    with read_transaction(ws.engine) as conn:
        content = content_repo.get(conn, exhibit_id)
    if content is None or content.removed or content.case_id != case_id:
        return
    try:
        ws.store.set_legal_hold(exhibit_key(case_id, exhibit_id), on)
    except ObjectNotFoundError:
        log.error("content of exhibit %s is missing from the store", exhibit_id)
    except StorageUnavailableError:
        log.error("legal hold of exhibit %s not mirrored on its object yet", exhibit_id)
