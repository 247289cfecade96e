"""Exhibits: registration, seal, holds, notes, and the views that show their content.

Holds (spec 2.1): each `exhibit.hold_set` is a hold of its own, named by its seq; several
may be open, and disposal waits for all of them. Only the state that set a hold releases
it, and a hold a judge set only a judge of that state. Notes: the log carries a salted
commitment to the text (`note.added` `commitment`), the salt stays here with the text.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from custody.commitment import SALT_SIZE, note_commitment
from server.auth import Principal
from server.db import read_transaction
from server.errors import ConflictError, NotFoundError, PermissionDeniedError
from server.permissions import Action, authorize
from server.repositories import content as content_repo
from server.repositories import exhibits as exhibit_repo
from server.services import content as content_service
from server.services import rules
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
    holds: tuple[exhibit_repo.HoldRow, ...] = ()  # the open holds

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
            "holds": [hold_json(h) for h in self.holds],
            "created_at": row.created_at.isoformat(),
        }


def hold_json(hold: exhibit_repo.HoldRow) -> dict[str, Any]:
    return {
        "hold": hold.seq,
        "jurisdiction": hold.jurisdiction,
        "role": hold.role,
        "reason": hold.reason,
        "authority": hold.authority,
        "set_at": hold.set_at.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class HoldSet:
    """A hold set: the hold is the seq of its exhibit.hold_set entry."""

    seq: int

    def to_json(self) -> dict[str, Any]:
        return {"hold": self.seq, "seq": self.seq, "type": "exhibit.hold_set"}


@dataclass(frozen=True, slots=True)
class HoldReleased:
    seq: int
    hold: int

    def to_json(self) -> dict[str, Any]:
        return {"hold": self.hold, "seq": self.seq, "type": "exhibit.hold_released"}


NOTE_CHECK = (
    "commitment = lowercase hex SHA-256(salt || text): hex-decode `salt` (32 bytes), append "
    "the UTF-8 bytes of `text`, hash with SHA-256, and compare with `commitment` and with "
    "the note.added entry at `seq` (spec 2.1)"
)


@dataclass(frozen=True, slots=True)
class NoteCreated:
    id: str
    commitment: str
    salt: str
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "commitment": self.commitment,
            "salt": self.salt,
            "seq": self.seq,
            "check": NOTE_CHECK,
        }


@dataclass(frozen=True, slots=True)
class NoteView:
    row: exhibit_repo.NoteRow

    def to_json(self) -> dict[str, Any]:
        row = self.row
        return {
            "id": row.id,
            "exhibit": row.exhibit_id,
            "text": row.text,
            "salt": row.salt,
            "commitment": row.commitment,
            "check": NOTE_CHECK,
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
    *,
    reason: str,
    authority: str,
) -> HoldSet:
    """POST …/hold: a hold of its own (its seq names it), resting on `authority`."""

    def work(log: CaseLog) -> HoldSet:
        current = locked_standing(log, principal)
        authorize(principal, Action.CASE_READ, current)  # 403 before any 404, as above
        row = _exhibit_in(log, exhibit_id)
        authorize(principal, Action.HOLD_SET, current, exhibit_owner=row.owner)
        rules.require_visible(log.conn, case_id, principal, exhibit_id)
        _refuse_if_disposed(log, exhibit_id)
        entry = log.append(
            principal.actor(),
            "exhibit.hold_set",
            exhibit=exhibit_id,
            data={"reason": reason, "authority": authority},
        )
        exhibit_repo.insert_hold(
            log.conn,
            case_id,
            exhibit_repo.HoldRow(
                exhibit_id=exhibit_id,
                seq=entry.seq,
                jurisdiction=principal.jurisdiction,
                role=principal.role,
                sub=principal.sub,
                reason=reason,
                authority=authority,
                set_at=datetime.now(UTC),
                released_seq=None,
                released_at=None,
            ),
        )
        exhibit_repo.set_flags(log.conn, exhibit_id, hold=True)
        return HoldSet(entry.seq)

    held = ws.committer.run(case_id, work)
    # Mirror the hold on the stored object (S3 Object Lock legal hold). After the
    # commit: the database is what disposal checks; the object's hold is the backstop.
    content_service.sync_store_hold(ws, case_id, exhibit_id, on=True)
    return held


def release_hold(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    *,
    reason: str,
    hold: int | None,
) -> HoldReleased:
    """POST …/hold/release: end one open hold (`hold`: its seq; None only when exactly one
    is open). Only the state that set it; a judge's hold only a judge of that state."""

    def work(log: CaseLog) -> tuple[HoldReleased, bool]:
        current = locked_standing(log, principal)
        authorize(principal, Action.CASE_READ, current)
        row = _exhibit_in(log, exhibit_id)
        authorize(principal, Action.HOLD_RELEASE, current, exhibit_owner=row.owner)
        rules.require_visible(log.conn, case_id, principal, exhibit_id)
        _refuse_if_disposed(log, exhibit_id)
        holds = [h.seq for h in rules.open_holds(log.conn, case_id, exhibit_id)]
        seq = hold
        if seq is None:
            if len(holds) != 1:
                raise ConflictError(
                    f"the exhibit has {len(holds)} open holds: name the one to release",
                    code="hold_ambiguous" if holds else "no_open_hold",
                )
            [seq] = holds
        refusal = rules.release_refusal(log.conn, case_id, principal, exhibit_id, seq)
        if refusal is not None:
            status, code, message = refusal
            if status == 404:
                raise NotFoundError(message, code=code)
            raise PermissionDeniedError(
                message,
                code=code,
                who=(principal.jurisdiction, principal.sub, principal.role, principal.jti),
                action=Action.HOLD_RELEASE.value,
            )
        entry = log.append(
            principal.actor(),
            "exhibit.hold_released",
            exhibit=exhibit_id,
            data={"reason": reason, "hold": seq},
        )
        exhibit_repo.release_hold(
            log.conn, exhibit_id, seq, released_seq=entry.seq, now=datetime.now(UTC)
        )
        still_held = len(holds) > 1
        exhibit_repo.set_flags(log.conn, exhibit_id, hold=still_held)
        return HoldReleased(entry.seq, seq), still_held

    released, still_held = ws.committer.run(case_id, work)
    if not still_held:
        content_service.sync_store_hold(ws, case_id, exhibit_id, on=False)
    return released


def add_note(
    ws: Workspace, principal: Principal, case_id: str, exhibit_id: str | None, text: str
) -> NoteCreated:
    note_id = str(uuid.uuid4())
    # spec 2.1 note.added: a fresh 32-byte salt per note, so that a reader of the log
    # cannot confirm a guessed text; the salt stays with the text, never in the log.
    salt = secrets.token_bytes(SALT_SIZE)
    commitment = note_commitment(salt, text)

    def work(log: CaseLog) -> NoteCreated:
        current = locked_standing(log, principal)
        authorize(principal, Action.NOTE_ADD, current)
        if exhibit_id is not None:
            _exhibit_in(log, exhibit_id)
            _refuse_if_disposed(log, exhibit_id)
        entry = log.append(
            principal.actor(), "note.added", exhibit=exhibit_id, data={"commitment": commitment}
        )
        log.defer(
            exhibit_repo.new_note_row(
                note_id=note_id,
                case_id=case_id,
                exhibit_id=exhibit_id,
                text=text,
                commitment=commitment,
                salt=salt.hex(),
                seq=entry.seq,
                now=datetime.now(UTC),
            )
        )
        return NoteCreated(note_id, commitment, salt.hex(), entry.seq)

    return ws.committer.run(case_id, work)


def list_exhibits(
    ws: Workspace, principal: Principal, case_id: str, request: PageRequest
) -> Page[ExhibitView]:
    after = decode_time_id(request.cursor)
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        rows = exhibit_repo.page(conn, case_id, after=after, limit=request.limit + 1)
        shown = rows[: request.limit]
        # A defence lawyer sees only the exhibits their grant discloses (spec 2.1).
        visible = rules.disclosed(conn, case_id, principal)
        if visible is not None:
            shown = [row for row in shown if row.id in visible]
        holds = exhibit_repo.holds_of(conn, [row.id for row in shown])
    # Each exhibit with its content, if any.
    stored = content_service.exhibit_content(ws, [row.id for row in shown])
    items = [
        ExhibitView(row, _content_json(stored.get(row.id)), tuple(holds.get(row.id, [])))
        for row in shown
    ]
    more = len(rows) > request.limit
    last = rows[request.limit - 1] if more else None
    cursor = time_id_cursor(last.created_at, last.id) if last is not None else None
    return Page(items, cursor)


def get_exhibit(ws: Workspace, principal: Principal, case_id: str, exhibit_id: str) -> ExhibitView:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)
        row = exhibit_repo.get(conn, case_id, exhibit_id)
        if row is None:
            raise NotFoundError(f"no exhibit {exhibit_id} in this case", code="exhibit_not_found")
        rules.require_visible(conn, case_id, principal, exhibit_id)
        holds = exhibit_repo.open_holds(conn, exhibit_id)
    stored = content_service.exhibit_content(ws, [row.id]).get(row.id)
    return ExhibitView(row, _content_json(stored), tuple(holds))


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
