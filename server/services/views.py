"""Reads the pages need that the services do not offer yet, each authorized first.

Each function asks `server.services.cases.authorize_read` (the permission matrix) before
it reads, exactly as the services do, and only reads: nothing here changes state or
writes a custody entry. They belong in server/services/ once that package settles
(witness status by case, uploads in progress, the case standing for showing actions).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.auth import Principal
from server.db import read_transaction
from server.permissions import Action, CaseStanding, allowed
from server.repositories import content as content_repo
from server.repositories import witnesses as witness_repo
from server.services import rules
from server.services.cases import authorize_read, standing
from server.services.workspace import Workspace


@dataclass(frozen=True, slots=True)
class WitnessStatus:
    name: str
    jurisdiction: str
    cosigned_size: int
    """The largest tree size this witness has cosigned for the case (0: none yet)."""


@dataclass(frozen=True, slots=True)
class Standing:
    """The principal's standing on a case, to decide which actions a page offers. The
    decision itself is the permission module's (`allowed`); this only carries its inputs."""

    principal: Principal
    case: CaseStanding

    def may(self, action: str, *, owner: str | None = None) -> bool:
        return allowed(self.principal, Action(action), self.case, exhibit_owner=owner)


def case_standing(ws: Workspace, principal: Principal, case_id: str) -> Standing:
    """404 for an unknown case, 403 for one the principal may not read."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        return Standing(principal, standing(conn, case_id, principal))


def witnesses(ws: Workspace, principal: Principal, case_id: str) -> list[WitnessStatus]:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.LOG_READ)
        rows = witness_repo.witnesses_of_case(conn, case_id)
        sizes = witness_repo.cosigned_sizes(conn, [case_id])
    return [WitnessStatus(w.name, w.jurisdiction, sizes.get((case_id, w.name), 0)) for w in rows]


def uploading(
    ws: Workspace, principal: Principal, case_id: str, exhibit_ids: list[str]
) -> set[str]:
    """Exhibits with a write (tus upload or PUT) in progress."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        return {x for x in exhibit_ids if content_repo.count_writes(conn, x) > 0}


def may_read_content(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, owner: str
) -> bool:
    """Whether a download would be allowed now: the matrix, plus the custody rules' answer
    (spec 6.7, `server.services.rules`), the same the content service asks. Only decides
    whether the page offers the button: the service decides."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        current = standing(conn, case_id, principal)
        if not allowed(principal, Action.CONTENT_READ, current, exhibit_owner=owner):
            return False
        return rules.read_refusal(conn, case_id, principal, exhibit_id) is None
