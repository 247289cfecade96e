"""Sharing exhibits between party states (spec 2.1 exhibit.shared / exhibit.share_revoked).

The owner state shares an exhibit with another party state, with conditions of use, and
may revoke the share; both are custody entries written with the share row in one
transaction. Reads of content check the share at that moment (`server.services.rules`,
the custody rules' `CaseState`), so a revocation takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from server.auth import Principal
from server.db import read_transaction
from server.errors import ConflictError, InvalidRequestError, NotFoundError
from server.permissions import Action, authorize
from server.repositories import exhibits as exhibit_repo
from server.repositories import shares as share_repo
from server.services import content, rules
from server.services.cases import Recorded, authorize_read, locked_standing
from server.services.custody_log import CaseLog
from server.services.workspace import Workspace

MAX_CONDITIONS = 10_000


@dataclass(frozen=True, slots=True)
class ShareRequest:
    jurisdiction: str
    conditions: str


@dataclass(frozen=True, slots=True)
class ShareView:
    row: share_repo.ShareRow

    def to_json(self) -> dict[str, Any]:
        row = self.row
        return {
            "exhibit": row.exhibit_id,
            "jurisdiction": row.jurisdiction,
            "conditions": row.conditions,
            "shared_at": row.shared_at.isoformat(),
            "shared_seq": row.shared_seq,
            "revoked_at": None if row.revoked_at is None else row.revoked_at.isoformat(),
            "revoked_seq": row.revoked_seq,
            "active": row.revoked_at is None,
        }


def _exhibit(log: CaseLog, exhibit_id: str) -> exhibit_repo.ExhibitRow:
    row = exhibit_repo.get(log.conn, log.case_id, exhibit_id)
    if row is None:
        raise NotFoundError(f"no exhibit {exhibit_id} in this case", code="exhibit_not_found")
    return row


def _not_disposed(log: CaseLog, exhibit_id: str) -> None:
    # spec 6.7: no event follows exhibit.disposed for the exhibit.
    if content.is_disposed(log.conn, exhibit_id):
        raise ConflictError("the exhibit was disposed of", code="exhibit_disposed")


def share_exhibit(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, request: ShareRequest
) -> Recorded:
    def work(log: CaseLog) -> Recorded:
        current = locked_standing(log, principal)
        row = _exhibit(log, exhibit_id)
        authorize(principal, Action.EXHIBIT_SHARE, current, exhibit_owner=row.owner)
        _not_disposed(log, exhibit_id)
        if request.jurisdiction == row.owner:
            raise InvalidRequestError(
                "the owner state holds the exhibit already", code="share_with_owner"
            )
        if request.jurisdiction not in current.parties:
            raise InvalidRequestError(
                f"{request.jurisdiction} is not a party to this case", code="not_party"
            )
        existing = share_repo.get_share(log.conn, exhibit_id, request.jurisdiction)
        if existing is not None and existing.revoked_at is None:
            raise ConflictError(
                f"the exhibit is already shared with {request.jurisdiction}",
                code="already_shared",
            )
        data = {"jurisdiction": request.jurisdiction, "conditions": request.conditions}
        entry = log.append(principal.actor(), "exhibit.shared", exhibit=exhibit_id, data=data)
        share_repo.put_share(
            log.conn,
            case_id=case_id,
            exhibit_id=exhibit_id,
            jurisdiction=request.jurisdiction,
            conditions=request.conditions,
            now=datetime.now(UTC),
            seq=entry.seq,
            exists=existing is not None,
        )
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)


def revoke_share(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, jurisdiction: str
) -> Recorded:
    def work(log: CaseLog) -> Recorded:
        current = locked_standing(log, principal)
        row = _exhibit(log, exhibit_id)
        authorize(principal, Action.EXHIBIT_SHARE_REVOKE, current, exhibit_owner=row.owner)
        _not_disposed(log, exhibit_id)
        existing = share_repo.get_share(log.conn, exhibit_id, jurisdiction)
        if existing is None or existing.revoked_at is not None:
            raise NotFoundError(
                f"the exhibit is not shared with {jurisdiction}", code="share_not_found"
            )
        # spec 2.1: the revocation names the conditions of the share it ends.
        data = {"jurisdiction": jurisdiction, "conditions": existing.conditions}
        entry = log.append(
            principal.actor(), "exhibit.share_revoked", exhibit=exhibit_id, data=data
        )
        share_repo.revoke_share(
            log.conn, exhibit_id, jurisdiction, now=datetime.now(UTC), seq=entry.seq
        )
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)


def list_shares(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str | None
) -> list[ShareView]:
    """Shares of one exhibit, or of the whole case: with whom, on what conditions, since
    when, and revoked when. Everyone who may read the case sees them."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        if exhibit_id is not None and exhibit_repo.get(conn, case_id, exhibit_id) is None:
            raise NotFoundError(f"no exhibit {exhibit_id} in this case", code="exhibit_not_found")
        if exhibit_id is not None:
            rules.require_visible(conn, case_id, principal, exhibit_id)
        rows = share_repo.shares_of_case(conn, case_id, exhibit_id=exhibit_id)
        disclosed = rules.disclosed(conn, case_id, principal)  # defence: its exhibits only
    return [ShareView(row) for row in rows if disclosed is None or row.exhibit_id in disclosed]
