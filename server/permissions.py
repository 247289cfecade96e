"""Who may do what: the role x action matrix of docs/permissions.md, enforced here only.

Each cell names the *standing* the actor needs on the case, or is absent (refused):
- PARTY: the actor's state (token iss) is a party to the case;
- OWNER: the actor's state is a party and owns the exhibit acted on;
- GRANT: the actor (jurisdiction, sub, role) was granted court/defence access to the case;
- ANYONE: no case is involved yet (creating one).
Judges and defence see a case only through a grant, even when their state is a party.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from server.auth import Principal
from server.errors import PermissionDeniedError


class Action(StrEnum):
    CASE_CREATE = "case.create"
    CASE_READ = "case.read"  # the case, its parties, grants and exhibits
    LOG_READ = "log.read"  # entries, checkpoints, proofs
    NOTE_READ = "note.read"
    PARTY_ADD = "case.party_add"  # a proposal; the state joins once every party consents
    PARTY_APPROVE = "case.party_approve"
    PARTY_REMOVE = "case.party_remove"  # only the state itself (withdrawal)
    ACCESS_GRANT = "case.access_grant"
    ACCESS_REVOKE = "case.access_revoke"
    EXHIBIT_REGISTER = "exhibit.register"
    EXHIBIT_SEAL = "exhibit.seal"
    HOLD_SET = "exhibit.hold_set"
    HOLD_RELEASE = "exhibit.hold_release"
    NOTE_ADD = "note.add"
    # evidence content
    CONTENT_UPLOAD = "content.upload"
    CONTENT_READ = "content.read"  # plus: owner state or an unrevoked share (spec 6.7)
    CONTENT_VERIFY = "content.verify"
    EXHIBIT_DISPOSE = "exhibit.dispose"
    # sharing, the case's witness policy and court bundles
    EXHIBIT_SHARE = "exhibit.share"
    EXHIBIT_SHARE_REVOKE = "exhibit.share_revoke"
    POLICY_SET = "case.policy_set"
    EXPORT_CREATE = "export.create"
    EXPORT_READ = "export.read"  # list exports, download a bundle


class Standing(StrEnum):
    ANYONE = "anyone"
    PARTY = "party"
    OWNER = "owner"
    GRANT = "grant"


_P, _O, _G, _A = Standing.PARTY, Standing.OWNER, Standing.GRANT, Standing.ANYONE
_READERS = {"investigator": _P, "technician": _P, "prosecutor": _P, "judge": _G, "defence": _G}

MATRIX: Final[Mapping[Action, Mapping[str, Standing]]] = {
    Action.CASE_CREATE: {"prosecutor": _A},
    Action.CASE_READ: _READERS,
    Action.LOG_READ: _READERS,
    Action.NOTE_READ: {"investigator": _P, "technician": _P, "prosecutor": _P, "judge": _G},
    Action.PARTY_ADD: {"prosecutor": _P},
    Action.PARTY_APPROVE: {"prosecutor": _P},
    Action.PARTY_REMOVE: {"prosecutor": _P},
    Action.ACCESS_GRANT: {"prosecutor": _P},
    Action.ACCESS_REVOKE: {"prosecutor": _P},
    Action.EXHIBIT_REGISTER: {"investigator": _P, "technician": _P},
    Action.EXHIBIT_SEAL: {"investigator": _O, "technician": _O},
    Action.HOLD_SET: {"prosecutor": _P, "judge": _G},
    Action.HOLD_RELEASE: {"prosecutor": _P, "judge": _G},
    Action.NOTE_ADD: {"investigator": _P, "technician": _P, "prosecutor": _P},
    # Evidence content. Reading content also needs the exhibit's owner state or
    # an unrevoked share for party roles (server.services.content checks it: spec 6.7).
    Action.CONTENT_UPLOAD: {"investigator": _O, "technician": _O},
    Action.CONTENT_READ: _READERS,
    Action.CONTENT_VERIFY: _READERS,
    Action.EXHIBIT_DISPOSE: {"prosecutor": _O},
    # Sharing: the owner state shares and revokes; prosecutors set the quorum and export;
    # judges and defence with a grant receive bundles and change nothing.
    Action.EXHIBIT_SHARE: {"investigator": _O, "prosecutor": _O},
    Action.EXHIBIT_SHARE_REVOKE: {"investigator": _O, "prosecutor": _O},
    Action.POLICY_SET: {"prosecutor": _P},
    Action.EXPORT_CREATE: {"prosecutor": _P},
    Action.EXPORT_READ: {"prosecutor": _P, "judge": _G, "defence": _G},
}

GRANTABLE_ROLES: Final = frozenset({"judge", "defence"})


@dataclass(frozen=True, slots=True)
class CaseStanding:
    """What the actor is to one case: its parties, and whether the actor holds a grant."""

    parties: frozenset[str]
    granted: bool


def can_see_as_party(role: str) -> bool:
    """Whether party membership alone lets this role see a case (list and read)."""
    return MATRIX[Action.CASE_READ].get(role) is Standing.PARTY


def allowed(
    principal: Principal,
    action: Action,
    case: CaseStanding | None,
    *,
    exhibit_owner: str | None = None,
) -> bool:
    needed = MATRIX[action].get(principal.role)
    if needed is None:
        return False
    if needed is Standing.ANYONE:
        return True
    if case is None:
        return False
    if needed is Standing.GRANT:
        return case.granted
    is_party = principal.jurisdiction in case.parties
    if needed is Standing.PARTY:
        return is_party
    return is_party and exhibit_owner == principal.jurisdiction  # OWNER


def authorize(
    principal: Principal,
    action: Action,
    case: CaseStanding | None,
    *,
    exhibit_owner: str | None = None,
) -> None:
    """Raise PermissionDeniedError unless the matrix allows this action to this actor."""
    if allowed(principal, action, case, exhibit_owner=exhibit_owner):
        return
    who = (principal.jurisdiction, principal.sub, principal.role, principal.jti)
    if case is not None and not _sees(principal, case):
        raise PermissionDeniedError(
            _unseen(principal, case), code="case_forbidden", who=who, action=action.value
        )
    raise PermissionDeniedError(
        f"a {principal.role} of {principal.jurisdiction} may not {action.value} here",
        who=who,
        action=action.value,
    )


def _unseen(principal: Principal, case: CaseStanding) -> str:
    """Why the case is not visible: the caller must know which step is missing."""
    party = principal.jurisdiction in case.parties
    if principal.role in GRANTABLE_ROLES:
        if party:
            return (
                f"your state ({principal.jurisdiction}) is a party to this case, but you hold "
                f"no grant: a {principal.role} sees a case only through a grant from a "
                "prosecutor of their own state"
            )
        return (
            f"your state ({principal.jurisdiction}) is not a party to this case and you hold "
            "no grant for it"
        )
    return f"your state ({principal.jurisdiction}) is not a party to this case"


def _sees(principal: Principal, case: CaseStanding) -> bool:
    return allowed(principal, Action.CASE_READ, case)
