"""What an export will hold, decided before a byte is written (spec 5; ADR 0022).

The requester must be a prosecutor of a party state; with content, their state must own or
hold an unrevoked share of every exhibit whose bytes go in (spec 6.7). The newest
checkpoint whose cosignatures meet the case's policy is chosen (none: 409, saying why: the
offline verifier would fail the quorum), and the disk the bundle may take is estimated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection

from custody.checkpoint import Checkpoint
from custody.entry import Entry
from custody.errors import CustodyError
from custody.note import Note, NoteSignature
from custody.policy import Policy, verify_cosigned_checkpoint
from server.auth import Principal
from server.db import read_transaction
from server.errors import ConflictError, NotFoundError
from server.permissions import Action, authorize
from server.repositories import exhibits as exhibit_repo
from server.repositories import log as log_repo
from server.repositories import witnesses as witness_repo
from server.services import content, rules
from server.services.cases import authorize_read, standing
from server.services.custody_log import case_origin
from server.services.witnessing import case_policy
from server.services.workspace import Workspace

CANDIDATE_CHECKPOINTS: Final = 32  # cosigned sizes tried, newest first
PROOF_HASH_LINE: Final = 46  # one base64 SHA-256 and its newline in a tlog-proof
PROOF_HEADER: Final = 256  # a tlog-proof's header lines and ZIP member header
EXPORT_OVERHEAD: Final = 16 * 1024 * 1024  # ZIP headers, manifest, report.html, policy
MAX_REASONS: Final = 10


class ExportRefusedError(ConflictError):
    """The bundle would not verify, or no checkpoint meets the witness quorum."""

    default_code = "export_refused"


@dataclass(frozen=True, slots=True)
class ExportRequest:
    exhibits: tuple[str, ...] | None  # None: every exhibit
    disclosure: str  # full or selective
    content: bool
    recipient: str

    def to_json(self) -> dict[str, Any]:
        return {
            "exhibits": None if self.exhibits is None else list(self.exhibits),
            "disclosure": self.disclosure,
            "content": self.content,
            "recipient": self.recipient,
        }


@dataclass(frozen=True, slots=True)
class Job:
    """An export checked and ready to be written."""

    principal: Principal
    case_id: str
    request: ExportRequest
    export_id: str
    size: int
    entries: list[Entry]
    note: Note
    policy: Policy
    chosen: list[str]
    with_content: list[str]
    needed: int


def authorize_create(ws: Workspace, principal: Principal, case_id: str) -> None:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.EXPORT_CREATE)


def prepare(ws: Workspace, principal: Principal, case_id: str, request: ExportRequest) -> Job:
    export_id = str(uuid.uuid4())
    origin = case_origin(ws.settings.log_name, case_id)
    with read_transaction(ws.engine) as conn:
        authorize(principal, Action.EXPORT_CREATE, standing(conn, case_id, principal))
        if request.exhibits is not None:
            for exhibit_id in request.exhibits:
                if exhibit_repo.get(conn, case_id, exhibit_id) is None:
                    raise NotFoundError(
                        f"no exhibit {exhibit_id} in this case", code="exhibit_not_found"
                    )
        policy = case_policy(conn, ws.signer, case_id)
        note = choose_checkpoint(conn, case_id, policy, origin)
        size = Checkpoint.parse_body(note.text).size
        rows = log_repo.entries(conn, case_id, 0, size)
        entries = parse_entries(rows, size)
        chosen = (
            list(request.exhibits)
            if request.exhibits is not None
            else [e.exhibit for e in entries if e.type == "exhibit.registered" and e.exhibit]
        )
        ingested = {e.exhibit for e in entries if e.type == "exhibit.ingested"}
        # A disposed exhibit's bytes are gone: hashes only (its entries still prove them).
        with_content = (
            [x for x in chosen if x in ingested and not content.is_disposed(conn, x)]
            if request.content
            else []
        )
        may_receive(conn, principal, case_id, with_content)  # an export is a read (spec 6.7)
    if request.exhibits is not None:
        registered = {e.exhibit for e in entries if e.type == "exhibit.registered"}
        missing = [x for x in chosen if x not in registered]
        if missing:
            raise ExportRefusedError(
                f"exhibit(s) {', '.join(missing)} were registered after the newest witnessed "
                f"checkpoint (size {size}); retry once it is cosigned",
                code="not_witnessed",
            )
    needed = export_estimate(ws, entries, note, request.disclosure, chosen, with_content)
    return Job(
        principal, case_id, request, export_id, size, entries, note, policy, chosen,
        with_content, needed,
    )  # fmt: skip


def may_receive(
    conn: Connection, principal: Principal, case_id: str, with_content: list[str]
) -> None:
    """spec 6.7: the bytes of each exhibit go to the owner state, a state holding an
    unrevoked share, or a judge or defence lawyer whose grant lists it and whose state may
    read it now (`server.services.rules`, one `CaseState`). No bytes of a disposed exhibit
    leave the server."""
    rules.require_receivable(conn, case_id, principal, with_content)


def _with_cosignatures(note: bytes, lines: list[str]) -> Note:
    parsed = Note.parse(note)
    if not lines:
        return parsed
    return parsed.with_signatures([NoteSignature.from_line(line) for line in lines])


def choose_checkpoint(conn: Connection, case_id: str, policy: Policy, origin: str) -> Note:
    """The newest checkpoint whose signature and cosignatures satisfy `policy`."""
    latest = log_repo.latest_checkpoint(conn, case_id)
    if latest is None:
        raise ExportRefusedError("the case has no checkpoint yet", code="no_checkpoint")
    by_size: dict[int, list[str]] = {}
    for size, _name, line in witness_repo.cosignatures(conn, case_id):
        by_size.setdefault(size, []).append(line)
    sizes = sorted({latest.size, *by_size}, reverse=True)[:CANDIDATE_CHECKPOINTS]
    reasons: list[str] = []
    for size in sizes:
        row = log_repo.checkpoint(conn, case_id, size)
        if row is None:
            continue
        note = _with_cosignatures(row.note, by_size.get(size, []))
        try:
            verdict = verify_cosigned_checkpoint(note, policy, origin=origin)
        except CustodyError as exc:
            reasons.append(f"size {size}: {exc}")
            continue
        if verdict.ok:
            return note
        have = ", ".join(verdict.verified_witnesses) or "no witness"
        reasons.append(f"size {size}: cosigned by {have}")
    raise ExportRefusedError(
        f"no checkpoint of this case meets its witness policy (quorum {policy.quorum}); "
        + "; ".join(reasons[:MAX_REASONS])
        + ". Retry once the witnesses have cosigned (GET /checkpoint says JITC-Witnessed).",
        code="not_witnessed",
    )


def parse_entries(rows: list[bytes], size: int) -> list[Entry]:
    if len(rows) != size:
        raise ExportRefusedError(
            f"the log holds {len(rows)} entries below the checkpoint's size {size}: "
            "custody rows are missing",
            code="log_damaged",
        )
    entries: list[Entry] = []
    for index, raw in enumerate(rows):
        try:
            entry = Entry.parse(raw)
        except CustodyError as exc:
            raise ExportRefusedError(
                f"custody entry {index} is damaged: {exc}", code="log_damaged"
            ) from None
        if entry.seq != index:
            raise ExportRefusedError(
                f"custody entry at position {index} says seq {entry.seq}: rows are missing",
                code="log_damaged",
            )
        entries.append(entry)
    return entries


def export_estimate(
    ws: Workspace,
    entries: list[Entry],
    note: Note,
    disclosure: str,
    chosen: list[str],
    with_content: list[str],
) -> int:
    """Bytes a bundle may take, at most about (ZIP compression only makes it smaller):
    the content; the entries it holds (full: all; selective: the case-level ones and those
    of the chosen exhibits, spec 5) once in the log and once in the report; for selective,
    one proof per entry (the cosigned note, the path's hashes, the entry again); overhead."""
    stored = content.exhibit_content(ws, with_content)
    needed = sum(row.size for row in stored.values()) + EXPORT_OVERHEAD
    disclosed = set(chosen)
    included = [
        len(e.canonical_bytes())
        for e in entries
        if disclosure == "full" or e.exhibit is None or e.exhibit in disclosed
    ]
    needed += 2 * sum(included)
    if disclosure == "selective":
        path = max(1, len(entries)).bit_length() * PROOF_HASH_LINE
        proof = len(note.to_bytes()) + path + PROOF_HEADER
        needed += sum(proof + length for length in included)
    return needed
