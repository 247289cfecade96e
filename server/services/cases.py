"""Cases: creation with parties, party changes, court/defence access grants, reading."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from server.auth import Principal
from server.db import read_transaction, write_transaction
from server.errors import ConflictError, InvalidRequestError, NotFoundError
from server.permissions import GRANTABLE_ROLES, Action, CaseStanding, authorize, can_see_as_party
from server.repositories import cases as case_repo
from server.repositories import content as content_repo
from server.repositories import jurisdictions as jurisdiction_repo
from server.repositories import log as log_repo
from server.repositories import shares as share_repo
from server.services.case_policy import append_policy_if_changed
from server.services.custody_log import CaseLog, case_origin
from server.services.pagination import Page, PageRequest, decode_time_id, time_id_cursor
from server.services.workspace import Workspace

Grant = case_repo.Grant
"""A judge or defence lawyer named by a court or defence access grant (jurisdiction, sub,
role): what a grant request asks for, and what the case's grants hold."""


@dataclass(frozen=True, slots=True)
class NewCase:
    title: str
    parties: tuple[str, ...]
    agreement: str


@dataclass(frozen=True, slots=True)
class Recorded:
    """A change and the custody entry that records it."""

    seq: int
    entry_type: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.entry_type}


@dataclass(frozen=True, slots=True)
class CaseSummary:
    id: str
    title: str
    agreement: str
    created_at: datetime
    created_by: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "agreement": self.agreement,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class CaseDetail:
    summary: CaseSummary
    origin: str
    parties: list[str]
    grants: list[case_repo.Grant]
    log_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            **self.summary.to_json(),
            "origin": self.origin,
            "parties": self.parties,
            "grants": [
                {"jurisdiction": g.jurisdiction, "sub": g.sub, "role": g.role} for g in self.grants
            ],
            "log_size": self.log_size,
        }


def standing(conn: Connection, case_id: str, principal: Principal) -> CaseStanding:
    parties = frozenset(case_repo.parties(conn, case_id))
    granted = principal.role in GRANTABLE_ROLES and case_repo.has_grant(
        conn, case_id, case_repo.Grant(principal.jurisdiction, principal.sub, principal.role)
    )
    return CaseStanding(parties=parties, granted=granted)


def locked_standing(log: CaseLog, principal: Principal) -> CaseStanding:
    """The actor's standing inside a unit of work; parties are read once per transaction."""
    if log.parties is None:
        log.parties = frozenset(case_repo.parties(log.conn, log.case_id))
    granted = principal.role in GRANTABLE_ROLES and case_repo.has_grant(
        log.conn,
        log.case_id,
        case_repo.Grant(principal.jurisdiction, principal.sub, principal.role),
    )
    return CaseStanding(parties=log.parties, granted=granted)


def authorize_read(conn: Connection, case_id: str, principal: Principal, action: Action) -> None:
    """404 for an unknown case, 403 unless the actor may do `action` on it."""
    if case_repo.get(conn, case_id) is None:
        raise NotFoundError(f"no case {case_id}", code="case_not_found")
    authorize(principal, action, standing(conn, case_id, principal))


def _summary(row: case_repo.CaseRow) -> CaseSummary:
    return CaseSummary(row.id, row.title, row.agreement, row.created_at, row.created_by)


def create_case(ws: Workspace, principal: Principal, new: NewCase) -> CaseSummary:
    authorize(principal, Action.CASE_CREATE, None)
    if principal.jurisdiction not in new.parties:
        raise InvalidRequestError(
            "your own state must be one of the case's parties", code="creator_not_party"
        )
    case_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with write_transaction(ws.engine) as conn:
        unknown = set(new.parties) - jurisdiction_repo.existing_codes(conn, list(new.parties))
        if unknown:
            raise InvalidRequestError(
                f"unknown jurisdiction(s): {', '.join(sorted(unknown))}",
                code="unknown_jurisdiction",
            )
        case_repo.insert_case(
            conn,
            case_id=case_id,
            title=new.title,
            agreement=new.agreement,
            now=now,
            by=principal.jurisdiction,
        )
        case_repo.add_parties(conn, case_id, list(new.parties))
        log = CaseLog.new(conn, case_id, ws.signer)
        log.append(
            principal.actor(),
            "case.created",
            data={"title": new.title, "parties": list(new.parties), "agreement": new.agreement},
        )
        append_policy_if_changed(log, principal.actor())  # spec 2.1: from creation on
        log.flush()
    return CaseSummary(case_id, new.title, new.agreement, now, principal.jurisdiction)


def list_cases(ws: Workspace, principal: Principal, request: PageRequest) -> Page[CaseSummary]:
    after = decode_time_id(request.cursor)
    grant = case_repo.Grant(principal.jurisdiction, principal.sub, principal.role)
    with read_transaction(ws.engine) as conn:
        rows = case_repo.visible_page(
            conn,
            jurisdiction=principal.jurisdiction,
            grant=grant,
            party_visible=can_see_as_party(principal.role),
            after=after,
            limit=request.limit + 1,
        )
    items = [_summary(row) for row in rows[: request.limit]]
    more = len(rows) > request.limit
    cursor = time_id_cursor(items[-1].created_at, items[-1].id) if more and items else None
    return Page(items, cursor)


def get_case(ws: Workspace, principal: Principal, case_id: str) -> CaseDetail:
    with read_transaction(ws.engine) as conn:
        row = case_repo.get(conn, case_id)
        if row is None:
            raise NotFoundError(f"no case {case_id}", code="case_not_found")
        authorize(principal, Action.CASE_READ, standing(conn, case_id, principal))
        head = log_repo.get_head(conn, case_id)
        return CaseDetail(
            summary=_summary(row),
            origin=case_origin(ws.settings.log_name, case_id),
            parties=case_repo.parties(conn, case_id),
            grants=case_repo.grants(conn, case_id),
            log_size=0 if head is None else head.size,
        )


def add_party(ws: Workspace, principal: Principal, case_id: str, code: str) -> Recorded:
    def work(log: CaseLog) -> Recorded:
        current = locked_standing(log, principal)
        authorize(principal, Action.PARTY_ADD, current)
        if code in current.parties:
            raise ConflictError(f"{code} is already a party", code="already_party")
        if jurisdiction_repo.get_name(log.conn, code) is None:
            raise InvalidRequestError(f"unknown jurisdiction {code}", code="unknown_jurisdiction")
        case_repo.add_parties(log.conn, case_id, [code])
        log.parties = current.parties | {code}
        entry = log.append(principal.actor(), "case.party_added", data={"jurisdiction": code})
        append_policy_if_changed(log, principal.actor())  # the new party's witness joins
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)


def remove_party(ws: Workspace, principal: Principal, case_id: str, code: str) -> Recorded:
    def work(log: CaseLog) -> Recorded:
        current = locked_standing(log, principal)
        authorize(principal, Action.PARTY_REMOVE, current)
        if code not in current.parties:
            raise NotFoundError(f"{code} is not a party", code="not_party")
        if len(current.parties) == 1:
            raise ConflictError("a case keeps at least one party", code="last_party")
        case_repo.remove_party(log.conn, case_id, code)
        log.parties = current.parties - {code}
        entry = log.append(principal.actor(), "case.party_removed", data={"jurisdiction": code})
        append_policy_if_changed(log, principal.actor())  # its witness leaves the policy
        # A state that leaves the team loses what was shared with it, in the log: were it
        # added back later, old shares must not silently work again. (Disposed exhibits
        # are skipped: nothing may follow exhibit.disposed, and their content is gone.)
        for share in share_repo.shares_of_case(log.conn, case_id):
            if share.jurisdiction != code or share.revoked_at is not None:
                continue
            content = content_repo.get(log.conn, share.exhibit_id)
            if content is not None and content.disposal_begun:
                continue
            revoked = log.append(
                principal.actor(),
                "exhibit.share_revoked",
                exhibit=share.exhibit_id,
                data={"jurisdiction": code, "conditions": share.conditions},
            )
            share_repo.revoke_share(
                log.conn, share.exhibit_id, code, now=datetime.now(UTC), seq=revoked.seq
            )
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)


def grant_access(
    ws: Workspace, principal: Principal, case_id: str, grant: case_repo.Grant
) -> Recorded:
    if grant.role not in GRANTABLE_ROLES:
        raise InvalidRequestError(
            "access grants are for judge or defence roles", code="role_not_grantable"
        )

    def work(log: CaseLog) -> Recorded:
        authorize(principal, Action.ACCESS_GRANT, locked_standing(log, principal))
        if jurisdiction_repo.get_name(log.conn, grant.jurisdiction) is None:
            raise InvalidRequestError(
                f"unknown jurisdiction {grant.jurisdiction}", code="unknown_jurisdiction"
            )
        if case_repo.has_grant(log.conn, case_id, grant):
            raise ConflictError("this access is already granted", code="already_granted")
        case_repo.add_grant(log.conn, case_id, grant)
        data = {"jurisdiction": grant.jurisdiction, "sub": grant.sub, "role": grant.role}
        entry = log.append(principal.actor(), "case.access_granted", data=data)
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)


def revoke_access(
    ws: Workspace, principal: Principal, case_id: str, grant: case_repo.Grant
) -> Recorded:
    def work(log: CaseLog) -> Recorded:
        authorize(principal, Action.ACCESS_REVOKE, locked_standing(log, principal))
        if not case_repo.has_grant(log.conn, case_id, grant):
            raise NotFoundError("no such access grant", code="grant_not_found")
        case_repo.remove_grant(log.conn, case_id, grant)
        data = {"jurisdiction": grant.jurisdiction, "sub": grant.sub, "role": grant.role}
        entry = log.append(principal.actor(), "case.access_revoked", data=data)
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)
