"""Reads the pages need that the services do not offer yet, each authorized first.

Each function asks `server.services.cases.authorize_read` (the permission matrix) before
it reads, exactly as the services do, and only reads: nothing here changes state or
writes a custody entry. They belong in server/services/ once that package settles
(witness status by case, uploads in progress, the case standing for showing actions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from server.auth import Principal
from server.db import read_transaction
from server.permissions import Action, CaseStanding, allowed
from server.repositories import content as content_repo
from server.repositories import log as log_repo
from server.repositories import timeline as timeline_repo
from server.repositories import witnesses as witness_repo
from server.repositories.timeline import Filter
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
        return content_repo.exhibits_with_writes(conn, exhibit_ids)


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


LogFilter = Filter  # what the pages build to choose entries
COUNT_CAP = 10_000
"""Matches a filtered timeline counts at most (a person pages through tens, not 10 000s)."""


@dataclass(frozen=True, slots=True)
class TimelinePage:
    total: int
    """How many entries match the filter (at most COUNT_CAP when `more`)."""
    entries: list[dict[str, Any]]
    """The page's entries, newest first, as logged."""
    labels: dict[str, str]
    """The labels of the exhibits the page's entries name."""
    more: bool = False
    """More than `total` entries match (they were not all counted)."""


def _parsed(rows: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(row) for row in rows]


def timeline(
    ws: Workspace, principal: Principal, case_id: str, f: Filter, *, offset: int, limit: int
) -> TimelinePage:
    """A page of the case's custody log, newest first, filtered in SQL (the same read
    permission as reading the log itself). A defence lawyer gets the case-level entries and
    those of the exhibits their grant discloses, as from the API's log read (spec 2.1)."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.LOG_READ)
        disclosed = rules.disclosed(conn, case_id, principal)
        if disclosed is not None:
            f = replace(f, visible=disclosed)
        more = False
        if f == Filter():
            # The whole log: the page is a range of seq (no count, no OFFSET walk).
            head = log_repo.get_head(conn, case_id)
            total = 0 if head is None else head.size
            end = max(0, total - offset)
            rows = log_repo.entries(conn, case_id, max(0, end - limit), end)
            entries = _parsed(list(reversed(rows)))
        else:
            counted = timeline_repo.count(conn, case_id, f, cap=COUNT_CAP)
            total, more = min(counted, COUNT_CAP), counted > COUNT_CAP
            rows = timeline_repo.newest(conn, case_id, f, offset=offset, limit=limit)
            entries = _parsed(rows)
        named = sorted({str(e["exhibit"]) for e in entries if e.get("exhibit")})
        labels = timeline_repo.labels(conn, case_id, named)
    return TimelinePage(total, entries, labels, more)


def holds(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, types: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The exhibit's entries of `types` (hold set and released), oldest first. 404 for an
    exhibit a defence lawyer's grant does not disclose."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.LOG_READ)
        rules.require_visible(conn, case_id, principal, exhibit_id)
        return _parsed(timeline_repo.holds(conn, case_id, exhibit_id, types))


def releasable_holds(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, owner: str
) -> frozenset[int]:
    """The open holds of the exhibit that the principal may release: the matrix, then the
    custody rule the release service asks (`rules.release_refusal`: the state that set it,
    a judge's hold only by a judge of it). Only decides which forms a page offers."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        current = standing(conn, case_id, principal)
        if not allowed(principal, Action.HOLD_RELEASE, current, exhibit_owner=owner):
            return frozenset()
        return frozenset(
            h.seq
            for h in rules.open_holds(conn, case_id, exhibit_id)
            if rules.release_refusal(conn, case_id, principal, exhibit_id, h.seq) is None
        )


def log_types(ws: Workspace, principal: Principal, case_id: str) -> list[str]:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.LOG_READ)
        return timeline_repo.types(conn, case_id, rules.disclosed(conn, case_id, principal))


def exhibit_labels(ws: Workspace, principal: Principal, case_id: str) -> dict[str, str]:
    """Every exhibit of the case by id: its label (for filters and note lists); for a
    defence lawyer only those their grant discloses."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        disclosed = rules.disclosed(conn, case_id, principal)
        shown = None if disclosed is None else sorted(disclosed)
        return timeline_repo.labels(conn, case_id, shown)
