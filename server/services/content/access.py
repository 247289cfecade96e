"""Who may touch an exhibit's content, and reading it (GET …/content).

Every step of ingest, download, re-verification and disposal asks these same questions,
in a read transaction first and again under the case lock, so they are stated once here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection

from evidence import ByteRange, ObjectNotFoundError, exhibit_key, resolve_range
from evidence import RangeNotSatisfiableError as StoreRangeError
from server.auth import Principal
from server.db import read_transaction
from server.errors import (
    ConflictError,
    NotFoundError,
    RangeNotSatisfiableError,
    StorageError,
)
from server.permissions import Action, authorize
from server.repositories import cases as case_repo
from server.repositories import content as content_repo
from server.repositories import exhibits as exhibit_repo
from server.services import rules
from server.services.cases import locked_standing, standing
from server.services.custody_log import CaseLog
from server.services.workspace import Workspace

log = logging.getLogger("jitc.content")


def exhibit_in_case(conn: Connection, case_id: str, exhibit_id: str) -> exhibit_repo.ExhibitRow:
    row = exhibit_repo.get(conn, case_id, exhibit_id)
    if row is None:
        raise NotFoundError(f"no exhibit {exhibit_id} in this case", code="exhibit_not_found")
    return row


def exhibit_for(
    conn: Connection, principal: Principal, case_id: str, exhibit_id: str, action: Action
) -> exhibit_repo.ExhibitRow:
    """Authorize `action` on the exhibit (404 for an unknown case or exhibit)."""
    if case_repo.get(conn, case_id) is None:
        raise NotFoundError(f"no case {case_id}", code="case_not_found")
    current = standing(conn, case_id, principal)
    authorize(principal, Action.CASE_READ, current)  # a case the caller cannot see: 403
    row = exhibit_in_case(conn, case_id, exhibit_id)
    rules.require_visible(conn, case_id, principal, exhibit_id)  # defence: disclosed only
    authorize(principal, action, current, exhibit_owner=row.owner)
    return row


def check_accepts_content(conn: Connection, row: exhibit_repo.ExhibitRow) -> None:
    if row.sealed:
        # spec 6.7: no exhibit.ingested follows an exhibit.sealed
        raise ConflictError("the exhibit is sealed and accepts no content", code="exhibit_sealed")
    if content_repo.get(conn, row.id) is not None:
        # spec 6.7: at most one exhibit.ingested per exhibit; content never changes
        raise ConflictError("the exhibit already has content", code="content_exists")


def authorize_upload(conn: Connection, principal: Principal, case_id: str, exhibit_id: str) -> None:
    row = exhibit_for(conn, principal, case_id, exhibit_id, Action.CONTENT_UPLOAD)
    check_accepts_content(conn, row)


def present_content(conn: Connection, exhibit_id: str) -> content_repo.ContentRow:
    content = content_repo.get(conn, exhibit_id)
    if content is None:
        raise NotFoundError("the exhibit has no content yet", code="no_content")
    if content.disposal_begun:
        raise NotFoundError("the exhibit's content was disposed of", code="content_disposed")
    return content


def exhibit_content(ws: Workspace, exhibit_ids: list[str]) -> dict[str, content_repo.ContentRow]:
    with read_transaction(ws.engine) as conn:
        return content_repo.of_exhibits(conn, exhibit_ids)


@dataclass(frozen=True, slots=True)
class Download:
    """An access that was logged, and the bytes it may now send."""

    content: content_repo.ContentRow
    selected: ByteRange | None
    """None: the whole content (200); else the bytes of a 206."""
    chunks: Iterator[bytes]
    seq: int


def download(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    exhibit_id: str,
    *,
    purpose: str,
    byte_range: tuple[int | None, int | None] | None,
    if_range: str | None = None,
    record: bool = True,
) -> Download:
    """GET …/content: check, open the bytes, log exhibit.accessed; then they may be sent.

    A refusal (403, 404, 416) is not an access and is not logged in the custody log;
    `record=False` (HEAD: no bytes are sent) checks alike, and opens and logs nothing."""
    with read_transaction(ws.engine) as conn:
        exhibit_for(conn, principal, case_id, exhibit_id, Action.CONTENT_READ)
        rules.require_readable(conn, case_id, principal, exhibit_id)  # before "no content"
        content = present_content(conn, exhibit_id)
    if if_range is not None and if_range.strip() != f'"{content.sha256}"':
        byte_range = None  # RFC 9110 13.1.5: not the representation the client holds
    selected: ByteRange | None = None
    if byte_range is not None:
        try:
            selected = resolve_range(content.size, *byte_range)
        except StoreRangeError:
            raise RangeNotSatisfiableError(
                f"the content has {content.size} bytes", size=content.size
            ) from None
        if selected.first == 0 and selected.last == content.size - 1:
            selected = None  # the whole content after all
    if not record:
        return Download(content, selected, iter(()), seq=0)
    first, last = (None, None) if selected is None else (selected.first, selected.last)
    try:
        chunks = ws.store.open_range(exhibit_key(case_id, exhibit_id), first, last)
    except ObjectNotFoundError:
        log.error("content of exhibit %s is missing from the store", exhibit_id)
        raise StorageError("the exhibit's content is missing from the store") from None

    def work(log: CaseLog) -> int:
        current = locked_standing(log, principal)
        row = exhibit_in_case(log.conn, case_id, exhibit_id)
        authorize(principal, Action.CONTENT_READ, current, exhibit_owner=row.owner)
        # A share or grant revoked meanwhile counts.
        rules.require_readable(log.conn, case_id, principal, exhibit_id)
        present_content(log.conn, exhibit_id)
        entry = log.append(
            principal.actor(),
            "exhibit.accessed",
            exhibit=exhibit_id,
            data={
                "purpose": purpose,
                "range": None if selected is None else [selected.first, selected.last],
            },
        )
        return entry.seq

    try:
        seq = ws.committer.run(case_id, work)
    except BaseException:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        raise
    return Download(content, selected, chunks, seq)
