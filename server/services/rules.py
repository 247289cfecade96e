"""The custody rules applied to a live case: one `custody.replay.CaseState`, built from the
tables, answers every permission decision that depends on the case's state.

The offline verifier folds the same `CaseState` over a bundle's entries (spec 6 check 7),
so what the server lets happen and what the verifier accepts cannot drift apart. The
tables are what the log built (same transaction, and `jitc audit` replays the log against
them); here they are read back into a `CaseState` with only what a decision needs.

- content: `require_readable` (owner state, unrevoked share, or a grant that lists the
  exhibit and whose state may read it now);
- defence: `disclosed` (the exhibits a defence lawyer sees at all: nothing of the others,
  labels included); judges and party roles see every exhibit;
- grants: `unreadable_by_state` (a state grants only what it may read itself), and
  `CaseState.grant_refusal` (only to its own courts and defence);
- parties: `CaseState.addition_refusal` (every consent given), `removal_refusal` (only a
  state itself withdraws; one party remains);
- holds: `CaseState.release_refusal` (only the state that set a hold releases it; a judge's
  hold only a judge of that state) and `disposal_refusal` (no disposal under any hold).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from custody.events import Role
from custody.replay import CaseState, ExhibitState, Grant, Hold, Proposal, Refusal
from server.auth import Principal
from server.errors import ConflictError, NotFoundError, PermissionDeniedError
from server.permissions import GRANTABLE_ROLES
from server.repositories import cases as case_repo
from server.repositories import content as content_repo
from server.repositories import exhibits as exhibit_repo
from server.repositories import shares as share_repo


def _grant(row: case_repo.Grant) -> Grant:
    return Grant(
        row.jurisdiction,
        row.sub,
        row.role,
        None if row.exhibits is None else frozenset(row.exhibits),
    )


def case_state(
    conn: Connection,
    case_id: str,
    *,
    exhibits: Sequence[str] | None = None,
    principal: Principal | None = None,
    case_level: bool = False,
) -> CaseState:
    """The case as its tables hold it now: its parties and pending proposals; the
    principal's grant (every grant if no principal is named); and these exhibits (all of
    the case's if None), each with its owner, unrevoked shares, open holds and whether its
    disposal has begun. The parties and proposals are read only for `case_level`
    questions (grants, parties): reads of exhibits do not depend on them."""
    if principal is None:
        grants = [_grant(g) for g in case_repo.grants(conn, case_id)]
    elif principal.role in GRANTABLE_ROLES:
        key = (principal.jurisdiction, principal.sub, principal.role)
        found = case_repo.get_grant(conn, case_id, key)
        grants = [] if found is None else [_grant(found)]
    else:
        grants = []  # a party's people read through their state, never a grant
    owners = {} if exhibits == [] else exhibit_repo.owners(conn, case_id, exhibits)
    ids = list(owners)
    shares = share_repo.active_shares(conn, case_id, ids) if ids else {}
    contents = content_repo.of_exhibits(conn, ids)
    holds = exhibit_repo.holds_of(conn, ids)
    states: dict[str, ExhibitState] = {}
    for exhibit_id, owner in owners.items():
        content = contents.get(exhibit_id)
        states[exhibit_id] = ExhibitState(
            owner=owner,
            shares=dict(shares.get(exhibit_id, {})),
            disposed=content is not None and content.disposal_begun,
            holds={h.seq: Hold(h.seq, h.jurisdiction, h.role) for h in holds.get(exhibit_id, [])},
        )
    if not case_level:
        return CaseState.from_tables(grants=grants, exhibits=states)
    proposals = [
        Proposal(
            seq=p.seq,
            jurisdiction=p.jurisdiction,
            proposer=p.proposed_by,
            required=frozenset(p.required),
            consented=set(p.consented),
        )
        for p in case_repo.pending_proposals(conn, case_id)
    ]
    return CaseState.from_tables(
        parties=case_repo.parties(conn, case_id),
        grants=grants,
        exhibits=states,
        proposals=proposals,
    )


def case_level(conn: Connection, case_id: str) -> CaseState:
    """The case's parties, grants and pending proposals, without its exhibits."""
    return case_state(conn, case_id, exhibits=[], case_level=True)


def read_refusal(
    conn: Connection, case_id: str, principal: Principal, exhibit_id: str
) -> Refusal | None:
    """spec 6.7: None if the principal may read the exhibit's content now, else why not."""
    state = case_state(conn, case_id, exhibits=[exhibit_id], principal=principal)
    return state.read_refusal(principal.jurisdiction, principal.sub, principal.role, exhibit_id)


def not_shared(principal: Principal, exhibit_id: str) -> PermissionDeniedError:
    """The refusal of a read without standing, saying what the caller lacks."""
    if principal.role in GRANTABLE_ROLES:
        message = (
            f"your grant does not disclose exhibit {exhibit_id}, or your state may no "
            "longer read it (neither owns it nor holds an unrevoked share of it)"
        )
    else:
        message = f"exhibit {exhibit_id} is neither owned by nor shared with your state"
    return PermissionDeniedError(
        message,
        code="not_shared",
        who=(principal.jurisdiction, principal.sub, principal.role, principal.jti),
        action="content.read",
    )


def require_readable(conn: Connection, case_id: str, principal: Principal, exhibit_id: str) -> None:
    """403 `not_shared` unless the principal may read the content (a disposed exhibit's
    standing is still checked first: `not_shared` comes before any "no content")."""
    if _lacks_standing(read_refusal(conn, case_id, principal, exhibit_id)):
        raise not_shared(principal, exhibit_id)


def _lacks_standing(refusal: Refusal | None) -> bool:
    """Any refusal but "disposed": the caller may not read the exhibit, whatever is left."""
    return refusal is not None and refusal is not Refusal.DISPOSED


def require_receivable(
    conn: Connection, case_id: str, principal: Principal, exhibit_ids: Iterable[str]
) -> None:
    """The bytes of each exhibit may go to the principal now (a bundle with content): 403
    `exhibit_not_shared` if any may not (checked for all first: standing before content),
    then 409 for a disposed one."""
    wanted = list(exhibit_ids)
    state = case_state(conn, case_id, exhibits=wanted, principal=principal)
    who = principal.jurisdiction, principal.sub, principal.role
    refusals = {x: state.read_refusal(*who, x) for x in wanted}
    for exhibit_id, refusal in refusals.items():
        if _lacks_standing(refusal):
            scope = " or not disclosed by your grant" if principal.role in GRANTABLE_ROLES else ""
            raise PermissionDeniedError(
                f"exhibit {exhibit_id} is not shared with {principal.jurisdiction}{scope}",
                code="exhibit_not_shared",
                who=(*who, principal.jti),
                action="export.create" if principal.role == Role.PROSECUTOR else "export.read",
            )
    for exhibit_id, refusal in refusals.items():
        if refusal is Refusal.DISPOSED:
            raise ConflictError(
                f"exhibit {exhibit_id} was disposed of: its content may not leave the server",
                code="exhibit_disposed",
            )


def _standing(state: CaseState, principal: Principal, exhibit_id: str) -> bool:
    refusal = state.read_refusal(principal.jurisdiction, principal.sub, principal.role, exhibit_id)
    return not _lacks_standing(refusal)


def disclosed(conn: Connection, case_id: str, principal: Principal) -> frozenset[str] | None:
    """The exhibits a defence lawyer sees (the case-level entries aside): those their grant
    discloses and their state may read now, disposed ones included. None for every other
    role: judges and the party roles see every exhibit of a case they may read."""
    if principal.role != Role.DEFENCE:
        return None
    state = case_state(conn, case_id, principal=principal)
    return frozenset(x for x in state.exhibits if _standing(state, principal, x))


def require_visible(conn: Connection, case_id: str, principal: Principal, exhibit_id: str) -> None:
    """404 for an exhibit that a defence lawyer's grant does not disclose: to them it does
    not exist (spec 2.1: nothing of other exhibits, labels included)."""
    if principal.role != Role.DEFENCE:
        return
    state = case_state(conn, case_id, exhibits=[exhibit_id], principal=principal)
    if exhibit_id not in state.exhibits or not _standing(state, principal, exhibit_id):
        raise NotFoundError(f"no exhibit {exhibit_id} in this case", code="exhibit_not_found")


def unreadable_by_state(
    conn: Connection, case_id: str, jurisdiction: str, exhibit_ids: Sequence[str]
) -> list[str]:
    """Of these exhibits, those the state neither owns nor holds an unrevoked share of."""
    state = case_state(conn, case_id, exhibits=exhibit_ids)
    return [
        x
        for x in exhibit_ids
        if x not in state.exhibits or not state.exhibits[x].readable_by_state(jurisdiction)
    ]


def open_holds(conn: Connection, case_id: str, exhibit_id: str) -> list[Hold]:
    """The exhibit's open holds, oldest first."""
    return case_state(conn, case_id, exhibits=[exhibit_id]).open_holds(exhibit_id)


def release_refusal(
    conn: Connection, case_id: str, principal: Principal, exhibit_id: str, hold: int
) -> tuple[int, str, str] | None:
    """spec 6.7: a hold is released only while open, by the jurisdiction that set it, and a
    hold set by a judge only by a judge. None if the principal may release it, else
    (HTTP status, code, message)."""
    state = case_state(conn, case_id, exhibits=[exhibit_id])
    refusal = state.release_refusal(principal.jurisdiction, principal.role, exhibit_id, hold)
    if refusal is None:
        return None
    if refusal is Refusal.NO_SUCH_HOLD:
        return 404, "hold_not_found", f"no open hold {hold} on this exhibit"
    setter = state.exhibits[exhibit_id].holds[hold].jurisdiction
    if refusal is Refusal.JUDGE_HOLD:
        message = (
            f"hold {hold} was set by a judge of {setter}: only a judge of {setter} may release it"
        )
        return 403, "hold_set_by_judge", message
    return 403, "hold_other_state", f"hold {hold} was set by {setter}: only {setter} may release it"
