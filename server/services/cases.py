"""Cases: creation with parties, party changes by consent, court/defence access grants,
reading.

A state joins a case only with the consent of every state that was a party when it was
proposed (spec 2.1 case.party_proposed, case.party_approved, case.party_added); a state
leaves only by withdrawing itself (case.party_removed), never removed by another. A state
grants access only to its own judges and defence lawyers, and only to exhibits it may read
itself (case.access_granted with `exhibits`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from custody.replay import Refusal
from server.auth import Principal
from server.db import read_transaction, write_transaction
from server.errors import ConflictError, InvalidRequestError, NotFoundError, PermissionDeniedError
from server.permissions import GRANTABLE_ROLES, Action, CaseStanding, authorize, can_see_as_party
from server.repositories import cases as case_repo
from server.repositories import content as content_repo
from server.repositories import exhibits as exhibit_repo
from server.repositories import jurisdictions as jurisdiction_repo
from server.repositories import log as log_repo
from server.repositories import shares as share_repo
from server.services import rules
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
    proposals: list[case_repo.ProposalRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.summary.to_json(),
            "origin": self.origin,
            "parties": self.parties,
            "grants": [grant_json(g) for g in self.grants],
            "proposals": [proposal_json(p) for p in self.proposals],
            "log_size": self.log_size,
        }


def grant_json(grant: case_repo.Grant) -> dict[str, Any]:
    return {
        "jurisdiction": grant.jurisdiction,
        "sub": grant.sub,
        "role": grant.role,
        "exhibits": None if grant.exhibits is None else list(grant.exhibits),
    }


def proposal_json(proposal: case_repo.ProposalRow) -> dict[str, Any]:
    """A pending proposal: the state proposed, by whom, and whose consent is missing."""
    return {
        "seq": proposal.seq,
        "jurisdiction": proposal.jurisdiction,
        "proposed_by": proposal.proposed_by,
        "consented": list(proposal.consented),
        "pending": proposal.pending,
        "created_at": proposal.created_at.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class PartyOutcome:
    """What a proposal or a consent did: 202 while consents are pending, 201 once the
    state is a party (`added`: the seq of case.party_added)."""

    proposal: int
    jurisdiction: str
    pending: list[str]
    added: int | None = None
    approved: int | None = None  # the seq of this consent's case.party_approved

    @property
    def status(self) -> int:
        return 202 if self.added is None else 201

    def to_json(self) -> dict[str, Any]:
        if self.added is not None:
            return {
                "proposal": self.proposal,
                "added": self.added,
                "jurisdiction": self.jurisdiction,
            }
        answer: dict[str, Any] = {"proposal": self.proposal, "pending": self.pending}
        if self.approved is not None:
            answer["approved"] = self.approved
        return answer


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


def precheck(ws: Workspace, principal: Principal, case_id: str, action: Action) -> None:
    """The role's standing for `action`, asked before the request body is validated, so
    that a caller who may not act learns that (403), not what their body lacks (400).
    Actions that need the exhibit's owner state are checked for the role and party here,
    and for the owner again by the service."""
    with read_transaction(ws.engine) as conn:
        if case_repo.get(conn, case_id) is None:
            raise NotFoundError(f"no case {case_id}", code="case_not_found")
        current = standing(conn, case_id, principal)
        authorize(principal, Action.CASE_READ, current)
        authorize(principal, action, current, exhibit_owner=principal.jurisdiction)


def _refuse(principal: Principal, action: Action, message: str, code: str) -> PermissionDeniedError:
    return PermissionDeniedError(
        message,
        code=code,
        who=(principal.jurisdiction, principal.sub, principal.role, principal.jti),
        action=action.value,
    )


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
            proposals=case_repo.pending_proposals(conn, case_id),
        )


def propose_party(ws: Workspace, principal: Principal, case_id: str, code: str) -> PartyOutcome:
    """POST …/parties: a prosecutor of a party proposes a state (case.party_proposed). Its
    own state consents by proposing; in a case with one party the state is added at once."""

    def work(log: CaseLog) -> PartyOutcome:
        current = locked_standing(log, principal)
        authorize(principal, Action.PARTY_ADD, current)
        if code in current.parties:
            raise ConflictError(f"{code} is already a party", code="already_party")
        if jurisdiction_repo.get_name(log.conn, code) is None:
            raise InvalidRequestError(f"unknown jurisdiction {code}", code="unknown_jurisdiction")
        for pending in case_repo.pending_proposals(log.conn, case_id):
            if pending.jurisdiction == code:
                raise ConflictError(
                    f"{code} is already proposed (proposal {pending.seq})",
                    code="already_proposed",
                )
        entry = log.append(principal.actor(), "case.party_proposed", data={"jurisdiction": code})
        case_repo.insert_proposal(
            log.conn,
            case_id,
            seq=entry.seq,
            jurisdiction=code,
            proposed_by=principal.jurisdiction,
            required=sorted(current.parties),
            now=datetime.now(UTC),
        )
        proposal = case_repo.get_proposal(log.conn, case_id, entry.seq)
        assert proposal is not None  # inserted just now
        return _complete_if_consented(log, principal, proposal, current, approved=None)

    return ws.committer.run(case_id, work)


def approve_party(
    ws: Workspace, principal: Principal, case_id: str, proposal_seq: int
) -> PartyOutcome:
    """POST …/parties/proposals/{seq}/approve: a prosecutor of another party state consents
    (case.party_approved); the last consent adds the state in the same transaction."""

    def work(log: CaseLog) -> PartyOutcome:
        current = locked_standing(log, principal)
        authorize(principal, Action.PARTY_APPROVE, current)
        proposal = case_repo.get_proposal(log.conn, case_id, proposal_seq)
        if proposal is None or proposal.added_seq is not None:
            raise NotFoundError(
                f"no pending proposal {proposal_seq} in this case", code="proposal_not_found"
            )
        state = principal.jurisdiction
        if state == proposal.proposed_by:
            raise _refuse(
                principal,
                Action.PARTY_APPROVE,
                f"{state} proposed {proposal.jurisdiction} and consented by proposing; "
                "the consent of another party is needed",
                "own_proposal",
            )
        if state not in proposal.required:
            raise _refuse(
                principal,
                Action.PARTY_APPROVE,
                f"{state} was not a party when proposal {proposal.seq} was made: "
                "its consent is not asked",
                "consent_not_needed",
            )
        if state in proposal.consented:
            raise ConflictError(
                f"{state} has already consented to proposal {proposal.seq}",
                code="already_consented",
            )
        if proposal.jurisdiction in current.parties:
            raise ConflictError(f"{proposal.jurisdiction} is already a party", code="already_party")
        entry = log.append(
            principal.actor(), "case.party_approved", data={"proposal": proposal.seq}
        )
        consented = [*proposal.consented, state]
        case_repo.set_consented(log.conn, case_id, proposal.seq, consented)
        updated = case_repo.get_proposal(log.conn, case_id, proposal.seq)
        assert updated is not None
        return _complete_if_consented(log, principal, updated, current, approved=entry.seq)

    return ws.committer.run(case_id, work)


def _complete_if_consented(
    log: CaseLog,
    principal: Principal,
    proposal: case_repo.ProposalRow,
    current: CaseStanding,
    *,
    approved: int | None,
) -> PartyOutcome:
    pending = proposal.pending
    state = rules.case_level(log.conn, log.case_id)
    if state.addition_refusal(proposal.seq, proposal.jurisdiction) is not None:
        return PartyOutcome(proposal.seq, proposal.jurisdiction, pending, approved=approved)
    # spec 2.1: case.party_added in the transaction of the last consent.
    code = proposal.jurisdiction
    case_repo.add_parties(log.conn, log.case_id, [code])
    log.parties = current.parties | {code}
    entry = log.append(
        principal.actor(),
        "case.party_added",
        data={"jurisdiction": code, "proposal": proposal.seq},
    )
    case_repo.set_added(log.conn, log.case_id, proposal.seq, entry.seq)
    return PartyOutcome(proposal.seq, code, [], added=entry.seq, approved=approved)


def remove_party(ws: Workspace, principal: Principal, case_id: str, code: str) -> Recorded:
    """DELETE …/parties/{code}: a state withdraws itself; no state removes another."""

    def work(log: CaseLog) -> Recorded:
        current = locked_standing(log, principal)
        authorize(principal, Action.PARTY_REMOVE, current)
        refusal = rules.case_level(log.conn, case_id).removal_refusal(principal.jurisdiction, code)
        if refusal is Refusal.OTHER_STATE:
            raise _refuse(
                principal,
                Action.PARTY_REMOVE,
                f"no state removes another: only {code} itself may withdraw from the case",
                "remove_other_state",
            )
        if refusal is not None:  # Refusal.LAST_PARTY
            raise ConflictError("a case keeps at least one party", code="last_party")
        case_repo.remove_party(log.conn, case_id, code)
        log.parties = current.parties - {code}
        entry = log.append(principal.actor(), "case.party_removed", data={"jurisdiction": code})
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
        # Its courts and defence read through it: the grants it gave end with it.
        for grant in case_repo.grants(log.conn, case_id, jurisdiction=code):
            case_repo.remove_grant(log.conn, case_id, grant)
            log.append(principal.actor(), "case.access_revoked", data=_grant_data(grant))
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)


def _grant_data(grant: case_repo.Grant, *, scope: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "jurisdiction": grant.jurisdiction,
        "sub": grant.sub,
        "role": grant.role,
    }
    if scope:
        data["exhibits"] = None if grant.exhibits is None else list(grant.exhibits)
    return data


def _own_state(log: CaseLog, principal: Principal, grant: case_repo.Grant, action: Action) -> None:
    state = rules.case_level(log.conn, log.case_id)
    if state.grant_refusal(principal.jurisdiction, grant.jurisdiction) is not None:
        raise _refuse(
            principal,
            action,
            f"a state grants access only to its own courts and defence: {principal.jurisdiction} "
            f"may not grant or revoke access for {grant.jurisdiction}",
            "grant_other_state",
        )


def grant_access(
    ws: Workspace, principal: Principal, case_id: str, grant: case_repo.Grant
) -> Recorded:
    """POST …/access (or …/grants): access for one of the granting state's own judges or
    defence lawyers, to the exhibits listed (None: all the state may read, at each read)."""
    if grant.role not in GRANTABLE_ROLES:
        raise InvalidRequestError(
            "access grants are for judge or defence roles", code="role_not_grantable"
        )

    def work(log: CaseLog) -> Recorded:
        authorize(principal, Action.ACCESS_GRANT, locked_standing(log, principal))
        _own_state(log, principal, grant, Action.ACCESS_GRANT)
        if grant.exhibits is not None:
            for exhibit_id in grant.exhibits:
                if exhibit_repo.get(log.conn, case_id, exhibit_id) is None:
                    raise NotFoundError(
                        f"no exhibit {exhibit_id} in this case", code="exhibit_not_found"
                    )
            unreadable = rules.unreadable_by_state(
                log.conn, case_id, principal.jurisdiction, grant.exhibits
            )
            if unreadable:
                raise _refuse(
                    principal,
                    Action.ACCESS_GRANT,
                    f"{principal.jurisdiction} may grant access only to what it may read "
                    f"itself: exhibit(s) {', '.join(unreadable)} are neither owned by nor "
                    "shared with it",
                    "not_shared",
                )
        if case_repo.has_grant(log.conn, case_id, grant):
            raise ConflictError("this access is already granted", code="already_granted")
        case_repo.add_grant(log.conn, case_id, grant)
        entry = log.append(
            principal.actor(), "case.access_granted", data=_grant_data(grant, scope=True)
        )
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)


def revoke_access(
    ws: Workspace, principal: Principal, case_id: str, grant: case_repo.Grant
) -> Recorded:
    """POST …/grants/revoke: the granting state ends a grant; it takes effect at once."""

    def work(log: CaseLog) -> Recorded:
        authorize(principal, Action.ACCESS_REVOKE, locked_standing(log, principal))
        _own_state(log, principal, grant, Action.ACCESS_REVOKE)
        if not case_repo.has_grant(log.conn, case_id, grant):
            raise NotFoundError("no such access grant", code="grant_not_found")
        case_repo.remove_grant(log.conn, case_id, grant)
        entry = log.append(principal.actor(), "case.access_revoked", data=_grant_data(grant))
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)
