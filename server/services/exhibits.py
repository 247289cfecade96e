"""Exhibits: registration, seal, legal hold, notes, and the views that show their content."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from server.auth import Principal
from server.db import read_transaction
from server.errors import ConflictError, NotFoundError
from server.permissions import Action, authorize
from server.repositories import content as content_repo
from server.repositories import exhibits as exhibit_repo
from server.services import content as content_service
from server.services.cases import Recorded, authorize_read, locked_standing
from server.services.custody_log import CaseLog
from server.services.pagination import (
    Page,
    PageRequest,
    decode_int,
    decode_time_id,
    encode_cursor,
    time_id_cursor,
)
from server.services.workspace import Workspace


@dataclass(frozen=True, slots=True)
class NewExhibit:
    label: str
    description: str
    acquisition: dict[str, Any]
    """tool, operator, time and the hashes the forensic tool claims (strings only)."""


@dataclass(frozen=True, slots=True)
class ExhibitCreated:
    id: str
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "seq": self.seq}


@dataclass(frozen=True, slots=True)
class ExhibitView:
    row: exhibit_repo.ExhibitRow
    content: dict[str, Any] | None = None  # what exhibit.ingested recorded, if anything

    def to_json(self) -> dict[str, Any]:
        row = self.row
        return {
            "content": self.content,
            "id": row.id,
            "case": row.case_id,
            "label": row.label,
            "description": row.description,
            "owner": row.owner,
            "acquisition": json.loads(row.acquisition),
            "sealed": row.sealed,
            "legal_hold": row.legal_hold,
            "created_at": row.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class NoteCreated:
    id: str
    sha256: str
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "sha256": self.sha256, "seq": self.seq}


@dataclass(frozen=True, slots=True)
class NoteView:
    row: exhibit_repo.NoteRow

    def to_json(self) -> dict[str, Any]:
        row = self.row
        return {
            "id": row.id,
            "exhibit": row.exhibit_id,
            "text": row.text,
            "sha256": row.sha256,
            "seq": row.seq,
            "created_at": row.created_at.isoformat(),
        }


def _acquisition_json(acquisition: dict[str, Any]) -> str:
    return json.dumps(acquisition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def register_exhibit(
    ws: Workspace, principal: Principal, case_id: str, new: NewExhibit
) -> ExhibitCreated:
    exhibit_id = str(uuid.uuid4())
    stored_acquisition = _acquisition_json(new.acquisition)

    def work(log: CaseLog) -> ExhibitCreated:
        authorize(principal, Action.EXHIBIT_REGISTER, locked_standing(log, principal))
        entry = log.append(
            principal.actor(),
            "exhibit.registered",
            exhibit=exhibit_id,
            new_exhibit=True,
            data={
                "label": new.label,
                "owner": principal.jurisdiction,  # the registering state holds it
                "description": new.description,
                "acquisition": new.acquisition,
            },
        )
        log.defer(
            exhibit_repo.new_exhibit_row(
                exhibit_id=exhibit_id,
                case_id=case_id,
                label=new.label,
                description=new.description,
                owner=principal.jurisdiction,
                acquisition=stored_acquisition,
                now=datetime.now(UTC),
                last_leaf=entry.leaf_hash(),
            )
        )
        return ExhibitCreated(exhibit_id, entry.seq)

    return ws.committer.run(case_id, work)


def _exhibit_in(log: CaseLog, exhibit_id: str) -> exhibit_repo.ExhibitRow:
    row = exhibit_repo.get(log.conn, log.case_id, exhibit_id)
    if row is None:
        raise NotFoundError(f"no exhibit {exhibit_id} in this case", code="exhibit_not_found")
    return row


def seal_exhibit(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str, reason: str
) -> Recorded:
    def work(log: CaseLog) -> Recorded:
        current = locked_standing(log, principal)
        # Who cannot see the case learns nothing of its exhibits (403 before any 404).
        authorize(principal, Action.CASE_READ, current)
        row = _exhibit_in(log, exhibit_id)
        authorize(principal, Action.EXHIBIT_SEAL, current, exhibit_owner=row.owner)
        _refuse_if_disposed(log, exhibit_id)
        if row.sealed:
            raise ConflictError("the exhibit is already sealed", code="exhibit_sealed")
        exhibit_repo.set_flags(log.conn, exhibit_id, sealed=True)
        entry = log.append(
            principal.actor(), "exhibit.sealed", exhibit=exhibit_id, data={"reason": reason}
        )
        return Recorded(entry.seq, entry.type)

    return ws.committer.run(case_id, work)


def set_hold(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    reason: str,
    *,
    hold: bool,
) -> Recorded:
    action = Action.HOLD_SET if hold else Action.HOLD_RELEASE
    entry_type = "exhibit.hold_set" if hold else "exhibit.hold_released"

    def work(log: CaseLog) -> Recorded:
        current = locked_standing(log, principal)
        authorize(principal, Action.CASE_READ, current)  # 403 before any 404, as above
        row = _exhibit_in(log, exhibit_id)
        authorize(principal, action, current, exhibit_owner=row.owner)
        _refuse_if_disposed(log, exhibit_id)
        if row.legal_hold == hold:
            state = "already under legal hold" if hold else "not under legal hold"
            raise ConflictError(f"the exhibit is {state}", code="hold_unchanged")
        exhibit_repo.set_flags(log.conn, exhibit_id, hold=hold)
        entry = log.append(
            principal.actor(), entry_type, exhibit=exhibit_id, data={"reason": reason}
        )
        return Recorded(entry.seq, entry.type)

    recorded = ws.committer.run(case_id, work)
    # Mirror the hold on the stored object (S3 Object Lock legal hold). After the
    # commit: the database flag is what disposal checks; the object's hold is the backstop.
    content_service.sync_store_hold(ws, case_id, exhibit_id, on=hold)
    return recorded


def add_note(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str | None, text: str
) -> NoteCreated:
    note_id = str(uuid.uuid4())
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()

    def work(log: CaseLog) -> NoteCreated:
        current = locked_standing(log, principal)
        authorize(principal, Action.NOTE_ADD, current)
        if exhibit_id is not None:
            _exhibit_in(log, exhibit_id)
            _refuse_if_disposed(log, exhibit_id)
        # spec 2.1 note.added: the log carries the text's SHA-256; the text stays here.
        entry = log.append(
            principal.actor(), "note.added", exhibit=exhibit_id, data={"sha256": digest}
        )
        log.defer(
            exhibit_repo.new_note_row(
                note_id=note_id,
                case_id=case_id,
                exhibit_id=exhibit_id,
                text=text,
                sha256=digest,
                seq=entry.seq,
                now=datetime.now(UTC),
            )
        )
        return NoteCreated(note_id, digest, entry.seq)

    return ws.committer.run(case_id, work)


def list_exhibits(
    ws: Workspace, principal: Principal, case_id: str, request: PageRequest
) -> Page[ExhibitView]:
    after = decode_time_id(request.cursor)
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        rows = exhibit_repo.page(conn, case_id, after=after, limit=request.limit + 1)
    # Each exhibit with its content, if any.
    stored = content_service.exhibit_content(ws, [row.id for row in rows[: request.limit]])
    items = [ExhibitView(row, _content_json(stored.get(row.id))) for row in rows[: request.limit]]
    more = len(rows) > request.limit
    cursor = time_id_cursor(items[-1].row.created_at, items[-1].row.id) if more else None
    return Page(items, cursor)


def get_exhibit(ws: Workspace, principal: Principal, case_id: str, exhibit_id: str) -> ExhibitView:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        row = exhibit_repo.get(conn, case_id, exhibit_id)
    if row is None:
        raise NotFoundError(f"no exhibit {exhibit_id} in this case", code="exhibit_not_found")
    stored = content_service.exhibit_content(ws, [row.id]).get(row.id)
    return ExhibitView(row, _content_json(stored))


def _refuse_if_disposed(log: CaseLog, exhibit_id: str) -> None:
    # spec 6.7: nothing follows exhibit.disposed
    if content_service.is_disposed(log.conn, exhibit_id):
        raise ConflictError("the exhibit was disposed of", code="exhibit_disposed")


def _content_json(row: content_repo.ContentRow | None) -> dict[str, Any] | None:
    return None if row is None else content_service.content_json(row)


def list_notes(
    ws: Workspace, principal: Principal, case_id: str, request: PageRequest
) -> Page[NoteView]:
    after = decode_int(request.cursor)
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.NOTE_READ)
        rows = exhibit_repo.notes_page(conn, case_id, after_seq=after, limit=request.limit + 1)
    items = [NoteView(row) for row in rows[: request.limit]]
    more = len(rows) > request.limit
    cursor = encode_cursor(items[-1].row.seq) if more else None
    return Page(items, cursor)
