"""What each page shows, gathered on a worker thread through the services.

Every read goes through a service function (or `server.services.views`, which authorizes
the same way), so a page shows only what the API would answer to the same principal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from server.auth import Principal
from server.permissions import Action
from server.services import cases, exhibits, exports, log_read, sharing
from server.services import views as readmodel
from server.services.admin import list_jurisdictions
from server.services.pagination import MAX_LIMIT, PageRequest
from server.services.views import LogFilter as Filter
from server.services.workspace import Workspace
from server.web.i18n import parse_time

LOG_PAGE_SIZE: Final = 50
EXHIBIT_TIMELINE: Final = 50
"""Entries an exhibit page shows, newest; the custody timeline filtered by the exhibit has
them all, page by page."""
HOLD_TYPES: Final = ("exhibit.hold_set", "exhibit.hold_released")
CASES_SCANNED: Final = 5000
"""Cases a search looks through (a person sees tens or hundreds of cases)."""
EXHIBITS_PER_PAGE: Final = 100

# Every action a case page may offer, asked of the permission module per principal.
CASE_ACTIONS: Final = (
    Action.EXHIBIT_REGISTER,
    Action.NOTE_READ,
    Action.NOTE_ADD,
    Action.LOG_READ,
    Action.PARTY_ADD,
    Action.PARTY_APPROVE,
    Action.PARTY_REMOVE,
    Action.ACCESS_GRANT,
    Action.ACCESS_REVOKE,
    Action.POLICY_SET,
    Action.EXPORT_CREATE,
    Action.EXPORT_READ,
)
EXHIBIT_ACTIONS: Final = (
    Action.EXHIBIT_SEAL,
    Action.HOLD_SET,
    Action.HOLD_RELEASE,
    Action.CONTENT_UPLOAD,
    Action.CONTENT_VERIFY,
    Action.EXHIBIT_DISPOSE,
    Action.EXHIBIT_SHARE,
    Action.EXHIBIT_SHARE_REVOKE,
    Action.NOTE_READ,
    Action.NOTE_ADD,
)


@dataclass(frozen=True, slots=True)
class EntryView:
    seq: int
    time: datetime | None
    actor: dict[str, Any]
    type: str
    exhibit: str | None
    exhibit_label: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExhibitLine:
    """One exhibit in the case's list."""

    view: exhibits.ExhibitView
    state: str
    shared_with: list[str]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    size: int
    root: str
    note: str
    witnessed: str
    cosigned_by: list[str]
    not_cosigned_by: list[str]


@dataclass(frozen=True, slots=True)
class CasePage:
    detail: cases.CaseDetail
    may: frozenset[str]
    exhibits: list[ExhibitLine]
    next_cursor: str | None
    witnesses: list[readmodel.WitnessStatus]
    checkpoint: Checkpoint | None
    policy: str
    addable: list[tuple[str, str]]
    """Registered states neither parties nor proposed (for a prosecutor proposing one)."""
    labels: dict[str, str] = field(default_factory=dict)
    """The labels of the exhibits this user sees (for grants and the grant form)."""
    approvable: frozenset[int] = frozenset()
    """Pending proposals (by seq) that this user's state must still consent to."""


@dataclass(frozen=True, slots=True)
class Hold:
    seq: int
    reason: str
    authority: str
    actor: dict[str, Any]
    released_seq: int | None


@dataclass(frozen=True, slots=True)
class ExhibitPage:
    detail: cases.CaseDetail
    exhibit: exhibits.ExhibitView
    acquisition: dict[str, Any]
    state: str
    may: frozenset[str]
    may_read_content: bool
    shares: list[sharing.ShareView]
    share_targets: list[str]
    timeline: list[EntryView]
    timeline_total: int
    """The exhibit's entries (counted up to a cap; the page shows EXHIBIT_TIMELINE)."""
    holds: list[Hold]
    notes: list[exhibits.NoteView] | None
    case_may: frozenset[str]
    releasable: frozenset[int] = frozenset()
    """The open holds (by seq) this user may release: a Release form each."""


@dataclass(frozen=True, slots=True)
class LogFilters:
    type: str = ""
    exhibit: str = ""
    state: str = ""

    def query(self) -> Filter:
        """The same filter, run by the database."""
        return Filter(
            types=(self.type,) if self.type else (),
            exhibit=self.exhibit or None,
            jurisdiction=self.state or None,
        )


@dataclass(frozen=True, slots=True)
class LogPage:
    detail: cases.CaseDetail
    entries: list[EntryView]
    page: int
    pages: int
    total: int
    more: bool
    """More entries match than `total` (counted up to a cap); `pages` is then a floor."""
    filters: LogFilters
    types: list[str]
    exhibits: list[tuple[str, str]]
    states: list[str]
    checkpoint: Checkpoint | None
    witnesses: list[readmodel.WitnessStatus]
    case_may: frozenset[str]


@dataclass(frozen=True, slots=True)
class NotesPage:
    detail: cases.CaseDetail
    may: frozenset[str]
    notes: list[exhibits.NoteView]
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class ExportLine:
    view: exports.ExportView
    request: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExportsPage:
    detail: cases.CaseDetail
    may: frozenset[str]
    exports: list[ExportLine]
    exhibits: list[tuple[str, str]]


# --- helpers -------------------------------------------------------------------------


def _may(
    standing: readmodel.Standing, actions: Iterable[Action], owner: str | None = None
) -> frozenset[str]:
    return frozenset(a.value for a in actions if standing.may(a.value, owner=owner))


def entry_views(raw: list[dict[str, Any]], labels: dict[str, str] | None = None) -> list[EntryView]:
    """Entries as a page shows them; `labels` names their exhibits (by default the labels
    the entries themselves register)."""
    if labels is None:
        labels = {
            e["exhibit"]: str(e["data"].get("label", ""))
            for e in raw
            if e.get("type") == "exhibit.registered" and e.get("exhibit")
        }
    return [
        EntryView(
            seq=int(e["seq"]),
            time=parse_time(str(e.get("time", ""))),
            actor=dict(e.get("actor") or {}),
            type=str(e.get("type", "")),
            exhibit=e.get("exhibit"),
            exhibit_label=labels.get(e.get("exhibit") or ""),
            data=dict(e.get("data") or {}),
        )
        for e in raw
    ]


def checkpoint(
    ws: Workspace, principal: Principal, case_id: str, witnesses: list[readmodel.WitnessStatus]
) -> Checkpoint | None:
    """The newest checkpoint, and which of the case's witnesses have cosigned it."""
    from server.services.witnessing import served_checkpoint  # noqa: PLC0415 - httpx import

    note, witnessed = served_checkpoint(ws, principal, case_id)
    text = note.decode("utf-8", "replace")
    lines = text.split("\n")
    if len(lines) < 3 or not lines[1].isdigit():
        return None
    size = int(lines[1])
    return Checkpoint(
        size=size,
        root=lines[2],
        note=text,
        witnessed=witnessed,
        cosigned_by=[w.name for w in witnesses if w.cosigned_size >= size],
        not_cosigned_by=[w.name for w in witnesses if w.cosigned_size < size],
    )


def exhibit_state(view: exhibits.ExhibitView, uploading: bool) -> str:
    content = view.content
    if content is not None and content.get("disposed"):
        return "disposed"
    if content is not None:
        return "stored"
    return "uploading" if uploading else "registered"


def holds_of(timeline: list[EntryView]) -> list[Hold]:
    """Each legal hold set on the exhibit, and the entry that released it (spec 2.1: a
    release names its hold by seq; one without that name ends the newest open hold)."""
    holds: list[Hold] = []
    released: dict[int, int] = {}
    for entry in timeline:
        if entry.type == "exhibit.hold_set":
            holds.append(
                Hold(
                    entry.seq,
                    str(entry.data.get("reason", "")),
                    str(entry.data.get("authority", "")),
                    entry.actor,
                    None,
                )
            )
        elif entry.type == "exhibit.hold_released":
            named = entry.data.get("hold")
            open_ = [h.seq for h in holds if h.seq not in released]
            target = named if isinstance(named, int) else (open_[-1] if open_ else None)
            if target is not None:
                released[target] = entry.seq
    return [Hold(h.seq, h.reason, h.authority, h.actor, released.get(h.seq)) for h in holds]


# --- pages ---------------------------------------------------------------------------


def case_list(
    ws: Workspace, principal: Principal, query: str
) -> tuple[list[cases.CaseSummary], bool]:
    """The cases the principal sees whose title, agreement or id contains `query`
    (case-insensitive), and whether the scan stopped at CASES_SCANNED."""
    found: list[cases.CaseSummary] = []
    cursor: str | None = None
    scanned = 0
    needle = query.casefold().strip()
    while True:
        page = cases.list_cases(ws, principal, PageRequest(limit=MAX_LIMIT, cursor=cursor))
        for item in page.items:
            haystack = f"{item.title}\n{item.agreement}\n{item.id}".casefold()
            if not needle or needle in haystack:
                found.append(item)
        scanned += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found, False
        if scanned >= CASES_SCANNED:
            return found, True


def may_create_case(principal: Principal) -> bool:
    from server.permissions import allowed  # noqa: PLC0415

    return allowed(principal, Action.CASE_CREATE, None)


def jurisdictions(ws: Workspace) -> list[tuple[str, str]]:
    return [(code, name) for code, name, _keys in list_jurisdictions(ws.engine)]


def case_page(ws: Workspace, principal: Principal, case_id: str, cursor: str | None) -> CasePage:
    detail = cases.get_case(ws, principal, case_id)
    standing = readmodel.case_standing(ws, principal, case_id)
    page = exhibits.list_exhibits(
        ws, principal, case_id, PageRequest(limit=EXHIBITS_PER_PAGE, cursor=cursor)
    )
    ids = [item.row.id for item in page.items]
    busy = readmodel.uploading(ws, principal, case_id, ids)
    shares = sharing.list_shares(ws, principal, case_id, None)
    shared_with: dict[str, list[str]] = {}
    for share in shares:
        if share.row.revoked_at is None:
            shared_with.setdefault(share.row.exhibit_id, []).append(share.row.jurisdiction)
    lines = [
        ExhibitLine(
            item, exhibit_state(item, item.row.id in busy), shared_with.get(item.row.id, [])
        )
        for item in page.items
    ]
    may = _may(standing, CASE_ACTIONS)
    taken = set(detail.parties) | {p.jurisdiction for p in detail.proposals}
    witness_list: list[readmodel.WitnessStatus] = []
    newest: Checkpoint | None = None
    policy = ""
    if Action.LOG_READ.value in may:
        from server.services.witnessing import get_policy_text  # noqa: PLC0415

        witness_list = readmodel.witnesses(ws, principal, case_id)
        newest = checkpoint(ws, principal, case_id, witness_list)
        policy = get_policy_text(ws, principal, case_id)
    return CasePage(
        detail=detail,
        may=may,
        exhibits=lines,
        next_cursor=page.next_cursor,
        witnesses=witness_list,
        checkpoint=newest,
        policy=policy,
        addable=[(code, name) for code, name in jurisdictions(ws) if code not in taken]
        if Action.PARTY_ADD.value in may
        else [],
        # Labels only where the grant form or a grant listing exhibits needs them.
        labels=readmodel.exhibit_labels(ws, principal, case_id)
        if Action.ACCESS_GRANT.value in may or any(g.exhibits for g in detail.grants)
        else {},
        approvable=frozenset(p.seq for p in detail.proposals if principal.jurisdiction in p.pending)
        if Action.PARTY_APPROVE.value in may
        else frozenset(),
    )


def exhibit_page(ws: Workspace, principal: Principal, case_id: str, exhibit_id: str) -> ExhibitPage:
    detail = cases.get_case(ws, principal, case_id)
    view = exhibits.get_exhibit(ws, principal, case_id, exhibit_id)
    standing = readmodel.case_standing(ws, principal, case_id)
    owner = view.row.owner
    may = _may(standing, EXHIBIT_ACTIONS, owner)
    shares = sharing.list_shares(ws, principal, case_id, exhibit_id)
    active = {s.row.jurisdiction for s in shares if s.row.revoked_at is None}
    own = Filter(exhibit=exhibit_id)
    newest = readmodel.timeline(ws, principal, case_id, own, offset=0, limit=EXHIBIT_TIMELINE)
    timeline = entry_views(list(reversed(newest.entries)), newest.labels)
    hold_entries = readmodel.holds(ws, principal, case_id, exhibit_id, HOLD_TYPES)
    notes = None
    if Action.NOTE_READ.value in may:
        notes = [n for n in all_notes(ws, principal, case_id) if n.row.exhibit_id == exhibit_id]
    busy = readmodel.uploading(ws, principal, case_id, [exhibit_id])
    return ExhibitPage(
        detail=detail,
        exhibit=view,
        acquisition=json.loads(view.row.acquisition),
        state=exhibit_state(view, exhibit_id in busy),
        may=may,
        may_read_content=view.content is not None
        and not view.content.get("disposed")
        and readmodel.may_read_content(ws, principal, case_id, exhibit_id, owner),
        shares=shares,
        share_targets=[c for c in detail.parties if c != owner and c not in active],
        timeline=timeline,
        timeline_total=newest.total,
        holds=holds_of(entry_views(hold_entries, newest.labels)),
        notes=notes,
        case_may=_may(standing, CASE_ACTIONS),
        releasable=readmodel.releasable_holds(ws, principal, case_id, exhibit_id, owner)
        if Action.HOLD_RELEASE.value in may
        else frozenset(),
    )


def all_notes(ws: Workspace, principal: Principal, case_id: str) -> list[exhibits.NoteView]:
    found: list[exhibits.NoteView] = []
    cursor: str | None = None
    while True:
        page = exhibits.list_notes(ws, principal, case_id, PageRequest(MAX_LIMIT, cursor))
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


def notes_page(ws: Workspace, principal: Principal, case_id: str) -> NotesPage:
    detail = cases.get_case(ws, principal, case_id)
    standing = readmodel.case_standing(ws, principal, case_id)
    notes = all_notes(ws, principal, case_id)
    labels = readmodel.exhibit_labels(ws, principal, case_id)
    return NotesPage(detail, _may(standing, CASE_ACTIONS), notes, labels)


def log_page(
    ws: Workspace, principal: Principal, case_id: str, filters: LogFilters, page: int
) -> LogPage:
    detail = cases.get_case(ws, principal, case_id)
    wanted = filters.query()
    page = max(1, page)
    found = readmodel.timeline(
        ws, principal, case_id, wanted, offset=(page - 1) * LOG_PAGE_SIZE, limit=LOG_PAGE_SIZE
    )
    pages = max(1, -(-found.total // LOG_PAGE_SIZE))
    if found.more:  # not all counted: there is a next page while this one is full
        pages = max(pages, page + (1 if len(found.entries) == LOG_PAGE_SIZE else 0))
    elif page > pages:  # past the end: the last page
        page = pages
        found = readmodel.timeline(
            ws, principal, case_id, wanted, offset=(page - 1) * LOG_PAGE_SIZE, limit=LOG_PAGE_SIZE
        )
    labels = readmodel.exhibit_labels(ws, principal, case_id)
    witness_list = readmodel.witnesses(ws, principal, case_id)
    states = set(detail.parties) | ({filters.state} if filters.state else set())
    return LogPage(
        detail=detail,
        entries=entry_views(found.entries, found.labels),
        page=page,
        pages=pages,
        total=found.total,
        more=found.more,
        filters=filters,
        types=readmodel.log_types(ws, principal, case_id),
        exhibits=sorted(labels.items(), key=lambda pair: (pair[1].casefold(), pair[0])),
        states=sorted(states),
        checkpoint=checkpoint(ws, principal, case_id, witness_list),
        witnesses=witness_list,
        case_may=case_may(ws, principal, case_id),
    )


def case_may(ws: Workspace, principal: Principal, case_id: str) -> frozenset[str]:
    """The case-level actions the principal may take (for the case's tabs and forms)."""
    return _may(readmodel.case_standing(ws, principal, case_id), CASE_ACTIONS)


def entry_with_proof(
    ws: Workspace, principal: Principal, case_id: str, seq: int
) -> tuple[cases.CaseDetail, EntryView, log_read.InclusionProof]:
    detail = cases.get_case(ws, principal, case_id)
    proof = log_read.inclusion(ws, principal, case_id, seq, None)
    raw = log_read.read_entries(ws, principal, case_id, seq, seq + 1)
    entries = entry_views([json.loads(line) for line in raw.lines.splitlines() if line])
    return detail, entries[0], proof


def exports_page(ws: Workspace, principal: Principal, case_id: str) -> ExportsPage:
    detail = cases.get_case(ws, principal, case_id)
    standing = readmodel.case_standing(ws, principal, case_id)
    may = _may(standing, CASE_ACTIONS)
    listed: list[ExportLine] = []
    if Action.EXPORT_READ.value in may:
        listed = [ExportLine(v, v.to_json()) for v in exports.list_exports(ws, principal, case_id)]
        listed.reverse()  # newest first
    choices: list[tuple[str, str]] = []
    if Action.EXPORT_CREATE.value in may:
        page = exhibits.list_exhibits(ws, principal, case_id, PageRequest(MAX_LIMIT, None))
        choices = [(item.row.id, item.row.label) for item in page.items]
    return ExportsPage(detail, may, listed, choices)


def export_page(
    ws: Workspace, principal: Principal, case_id: str, export_id: str
) -> tuple[cases.CaseDetail, ExportLine]:
    detail = cases.get_case(ws, principal, case_id)
    view = exports.export_status(ws, principal, case_id, export_id)
    return detail, ExportLine(view, view.to_json())
