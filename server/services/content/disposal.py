"""Disposal of an exhibit's content (POST …/dispose), in three phases around the store:
fence the exhibit under the case lock, remove the object (or learn that Object Lock
retention keeps it), then log exhibit.disposed. Nothing may follow it (spec 6.7)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from custody.replay import Refusal
from evidence import LegalHoldActiveError, ObjectNotFoundError, exhibit_key
from server.auth import Principal
from server.db import read_transaction
from server.errors import ConflictError, NotFoundError
from server.permissions import Action, authorize
from server.repositories import content as content_repo
from server.services import rules
from server.services.cases import locked_standing
from server.services.content.access import exhibit_for, exhibit_in_case
from server.services.custody_log import CaseLog
from server.services.workspace import Workspace

log = logging.getLogger("jitc.content")


@dataclass(frozen=True, slots=True)
class Disposed:
    seq: int
    removed: bool
    retained_until: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": "exhibit.disposed",
            "removed": self.removed,
            "retained_until": self.retained_until.isoformat() if self.retained_until else None,
        }


def precheck_disposal(ws: Workspace, principal: Principal, case_id: str, exhibit_id: str) -> None:
    """Whether the caller may dispose of this exhibit at all (owner state's prosecutor),
    asked before the order in the body is validated: 403 before 400."""
    with read_transaction(ws.engine) as conn:
        exhibit_for(conn, principal, case_id, exhibit_id, Action.EXHIBIT_DISPOSE)


def dispose(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    *,
    reason: str,
    authority: str,
) -> Disposed:
    """POST …/dispose: only without legal hold; remove the content or record that Object
    Lock retention still keeps it; log exhibit.disposed. Nothing may follow it (spec 6.7)."""
    with read_transaction(ws.engine) as conn:
        exhibit_for(conn, principal, case_id, exhibit_id, Action.EXHIBIT_DISPOSE)
        _refuse_if_held(conn, case_id, exhibit_id)
        _content_to_dispose(conn, exhibit_id)

    # Phase 1, under the case lock: re-check the hold and fence the exhibit. A hold that
    # committed before this is seen here; one that comes after sees the fence and is
    # refused (is_disposed). Only then may bytes be destroyed.
    def begin(log: CaseLog) -> None:
        current = locked_standing(log, principal)
        row = exhibit_in_case(log.conn, case_id, exhibit_id)
        authorize(principal, Action.EXHIBIT_DISPOSE, current, exhibit_owner=row.owner)
        _refuse_if_held(log.conn, case_id, exhibit_id)
        _content_to_dispose(log.conn, exhibit_id)
        content_repo.begin_disposal(log.conn, exhibit_id, now=datetime.now(UTC))

    ws.committer.run(case_id, begin)

    # Phase 2: the store. A crash here leaves the fence without an entry; disposing again
    # completes it (the object may already be gone, which counts as removed).
    def lift_fence(log: CaseLog) -> None:
        content_repo.end_disposal_attempt(log.conn, exhibit_id)

    try:
        result = ws.store.dispose(exhibit_key(case_id, exhibit_id))
    except LegalHoldActiveError:
        # Nothing was removed: lift the fence, or holds and reads would stay refused
        # while the log says nothing was disposed.
        ws.committer.run(case_id, lift_fence)
        raise ConflictError("the stored object is under legal hold", code="hold_active") from None
    except ObjectNotFoundError:
        log.warning("content of exhibit %s was already gone at disposal", exhibit_id)
        result = None

    removed = result is None or result.removed
    until = None if result is None else result.retained_until

    # Phase 3: log exhibit.disposed with what the store did.
    def work(log: CaseLog) -> Disposed:
        current = locked_standing(log, principal)
        row = exhibit_in_case(log.conn, case_id, exhibit_id)
        authorize(principal, Action.EXHIBIT_DISPOSE, current, exhibit_owner=row.owner)
        _content_to_dispose(log.conn, exhibit_id)
        entry = log.append(
            principal.actor(),
            "exhibit.disposed",
            exhibit=exhibit_id,
            data={
                "reason": reason,
                "authority": authority,
                "removed": removed,
                "retained_until": until.isoformat() if until else None,
            },
        )
        content_repo.mark_disposed(
            log.conn,
            exhibit_id,
            now=datetime.now(UTC),
            seq=entry.seq,
            removed=removed,
            retained_until=until,
        )
        return Disposed(entry.seq, removed, until)

    return ws.committer.run(case_id, work)


def _refuse_if_held(conn: Connection, case_id: str, exhibit_id: str) -> None:
    """spec 6.7: no exhibit.disposed while any hold on the exhibit is open."""
    state = rules.case_state(conn, case_id, exhibits=[exhibit_id])
    if state.disposal_refusal(exhibit_id) is Refusal.ON_HOLD:
        holds = state.open_holds(exhibit_id)
        named = ", ".join(f"{hold.seq} ({hold.jurisdiction})" for hold in holds)
        raise ConflictError(
            f"the exhibit is under {len(holds)} open hold(s): {named}; each must be released "
            "by the state that set it first",
            code="exhibit_on_hold",
        )


def _content_to_dispose(conn: Connection, exhibit_id: str) -> content_repo.ContentRow:
    """Content that may be disposed of: present, and exhibit.disposed not logged yet (a
    begun but unfinished disposal may be completed)."""
    content = content_repo.get(conn, exhibit_id)
    if content is None:
        raise NotFoundError("the exhibit has no content yet", code="no_content")
    if content.disposed:
        raise NotFoundError("the exhibit's content was disposed of", code="content_disposed")
    return content


def is_disposed(conn: Connection, exhibit_id: str) -> bool:
    """For other services: no event may follow exhibit.disposed (spec 6.7), nor a hold or
    share slip in while a disposal is under way."""
    content = content_repo.get(conn, exhibit_id)
    return content is not None and content.disposal_begun
