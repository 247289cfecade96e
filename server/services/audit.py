"""`jitc audit CASE`: check a live case end to end on the server host.

Unlike the offline verifier, which sees only what a bundle carries, the audit reads the
database and the evidence store directly and names the row, checkpoint or object that is
wrong: entry bytes against their stored leaf hash, the prev and exhibit_prev chains, seq
gaps, the Merkle root of every stored checkpoint, the log signature under the current log
key, each witness cosignature under the registered witness keys, and every stored
object's size, SHA-256 and BLAKE3 against its exhibit.ingested entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from custody.checkpoint import Checkpoint
from custody.cosignature import CosignatureVerifier
from custody.entry import Entry
from custody.errors import CustodyError
from custody.merkle import MemoryTree, leaf_hash
from custody.note import Note, NoteSignature
from custody.replay import replay
from evidence.errors import EvidenceError, ObjectNotFoundError
from evidence.keys import exhibit_key
from server.db import read_transaction
from server.errors import NotFoundError
from server.repositories import cases as case_repo
from server.repositories import exhibits as exhibit_repo
from server.repositories import exports as export_repo
from server.repositories import log as log_repo
from server.repositories import shares as share_repo
from server.repositories import witnesses as witness_repo
from server.services.custody_log import case_origin
from server.services.workspace import Workspace

ZERO = bytes(32)
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class AuditFinding:
    severity: Severity
    subject: str  # e.g. "entry 12", "checkpoint 40", "object cases/.../exhibits/..."
    message: str

    def line(self) -> str:
        return f"{self.severity.upper()} {self.subject}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "subject": self.subject, "message": self.message}


@dataclass(slots=True)
class AuditReport:
    case_id: str
    entries: int = 0
    checkpoints: int = 0
    cosignatures: int = 0
    objects: int = 0
    findings: list[AuditFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def error(self, subject: str, message: str) -> None:
        self.findings.append(AuditFinding("error", subject, message))

    def warn(self, subject: str, message: str) -> None:
        self.findings.append(AuditFinding("warning", subject, message))

    def summary(self) -> str:
        errors = sum(1 for f in self.findings if f.severity == "error")
        verdict = "OK" if self.ok else f"FAILED ({errors} problem(s))"
        return (
            f"case {self.case_id}: {self.entries} entries, {self.checkpoints} checkpoints, "
            f"{self.cosignatures} cosignatures, {self.objects} stored objects: {verdict}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "cosignatures": self.cosignatures,
            "objects": self.objects,
            "findings": [f.to_json() for f in self.findings],
        }


def audit_case(ws: Workspace, case_id: str, *, objects: bool = True) -> AuditReport:
    report = AuditReport(case_id)
    with read_transaction(ws.engine) as conn:
        if case_repo.get(conn, case_id) is None:
            raise NotFoundError(f"no case {case_id}", code="case_not_found")
        head = log_repo.get_head(conn, case_id)
        rows = export_repo.custody_rows(conn, case_id)
        nodes = export_repo.leaf_nodes(conn, case_id)
        checkpoints = witness_repo.checkpoint_notes(conn, case_id)
        cosignatures = witness_repo.cosignatures(conn, case_id)
        witnesses = {w.name: w for w in witness_repo.all_witnesses(conn)}
        owners = exhibit_repo.owners(conn, case_id, None)
        tables = _StateTables(
            parties=frozenset(case_repo.parties(conn, case_id)),
            grants=frozenset(
                (
                    g.jurisdiction,
                    g.sub,
                    g.role,
                    None if g.exhibits is None else frozenset(g.exhibits),
                )
                for g in case_repo.grants(conn, case_id)
            ),
            shares=frozenset(
                (s.exhibit_id, s.jurisdiction)
                for s in share_repo.shares_of_case(conn, case_id)
                if s.revoked_at is None
            ),
            holds=frozenset(
                (exhibit_id, hold.seq)
                for exhibit_id, held in exhibit_repo.holds_of(conn, list(owners)).items()
                for hold in held
            ),
            exhibits={
                row.id: (row.owner, row.sealed, row.legal_hold)
                for row in exhibit_repo.page(conn, case_id, after=None, limit=1_000_000)
            },
        )
    report.entries = len(rows)
    entries = _check_entries(case_id, rows, nodes, report)
    leaves = [leaf_hash(row.canonical) for row in rows]
    if head is None:
        report.error("log head", "the case has no log head")
    else:
        if head.size != len(rows):
            report.error("log head", f"the head says {head.size} entries; {len(rows)} are stored")
        if leaves and head.last_leaf != leaves[-1]:
            report.error("log head", "the head's last leaf is not the last entry's leaf hash")
    _check_state_tables(entries, tables, report)
    bodies = _check_checkpoints(ws, case_id, leaves, checkpoints, report)
    _check_cosignatures(bodies, cosignatures, witnesses, report)
    if objects:
        _check_objects(ws, case_id, entries, report)
    return report


def _check_entries(
    case_id: str,
    rows: list[export_repo.CustodyRow],
    nodes: dict[int, bytes],
    report: AuditReport,
) -> list[Entry]:
    entries: list[Entry] = []
    previous = ZERO
    last_time = ""
    exhibit_heads: dict[str, bytes] = {}
    expected_seq = 0
    for row in rows:
        subject = f"entry {row.seq}"
        if row.seq != expected_seq:
            report.error(
                subject,
                f"expected seq {expected_seq}: entries {expected_seq}..{row.seq - 1} are missing",
            )
        expected_seq = row.seq + 1
        recomputed = leaf_hash(row.canonical)
        if recomputed != row.leaf_hash:
            report.error(subject, "its stored bytes do not hash to its stored leaf hash (changed)")
        stored_node = nodes.get(row.seq)
        if stored_node is None:
            report.error(subject, "its Merkle leaf node is missing")
        elif stored_node != recomputed:
            report.error(subject, "its Merkle leaf node differs from the hash of its bytes")
        try:
            entry = Entry.parse(row.canonical)
        except CustodyError as exc:
            report.error(subject, f"not a valid canonical entry: {exc}")
            previous = recomputed
            continue
        if entry.seq != row.seq:
            report.error(subject, f"the entry says seq {entry.seq}")
        if entry.case != case_id:
            report.error(subject, f"the entry names case {entry.case}")
        if entry.prev != previous.hex():
            report.error(subject, "prev is not the leaf hash of the entry before it")
        if entry.time < last_time:
            report.error(subject, f"time {entry.time} is before the previous entry's")
        if entry.exhibit is not None:
            expected = exhibit_heads.get(entry.exhibit, ZERO)
            if entry.exhibit_prev != expected.hex():
                report.error(subject, f"exhibit_prev breaks exhibit {entry.exhibit}'s chain")
            exhibit_heads[entry.exhibit] = recomputed
        previous = recomputed
        last_time = entry.time
        entries.append(entry)
    return entries


def _check_checkpoints(
    ws: Workspace,
    case_id: str,
    leaves: list[bytes],
    checkpoints: list[tuple[int, bytes, bytes]],
    report: AuditReport,
) -> dict[int, str]:
    """Check each stored checkpoint; return the note bodies that are sound, by size."""
    report.checkpoints = len(checkpoints)
    tree = MemoryTree.from_leaf_hashes(leaves)
    origin = case_origin(ws.settings.log_name, case_id)
    verifier = ws.signer.case_signer(case_id).verifier()
    bodies: dict[int, str] = {}
    for size, root, raw in checkpoints:
        subject = f"checkpoint {size}"
        try:
            note = Note.parse(raw)
            checkpoint = Checkpoint.parse_body(note.text)
        except CustodyError as exc:
            report.error(subject, f"the stored note is malformed: {exc}")
            continue
        if checkpoint.origin != origin or checkpoint.size != size:
            report.error(subject, "the signed note names another origin or size")
        if checkpoint.root_hash != root:
            report.error(subject, "the signed root differs from the stored root")
        if size > len(leaves):
            report.error(subject, f"covers {size} entries but only {len(leaves)} are stored")
        elif tree.root(size) != checkpoint.root_hash:
            report.error(subject, "the Merkle root over the stored entries is not the signed root")
        signed = [s for s in note.signatures if verifier.verify(note.text, s)]
        if not signed:
            report.error(subject, "no signature verifies with the current log key")
        bodies[size] = note.text
    return bodies


def _check_cosignatures(
    bodies: dict[int, str],
    cosignatures: list[tuple[int, str, str]],
    witnesses: dict[str, witness_repo.WitnessRow],
    report: AuditReport,
) -> None:
    report.cosignatures = len(cosignatures)
    for size, name, line in cosignatures:
        subject = f"cosignature {name} on checkpoint {size}"
        witness = witnesses.get(name)
        body = bodies.get(size)
        if witness is None:
            report.warn(subject, "no witness of that name is registered now")
            continue
        if body is None:
            report.error(subject, "the checkpoint it cosigns is missing or malformed")
            continue
        try:
            sig = NoteSignature.from_line(line)
            ok = CosignatureVerifier.from_vkey(witness.vkey).verify(body, sig) is not None
        except CustodyError:
            ok = False
        if not ok:
            report.error(subject, "does not verify with the registered witness key")


@dataclass(frozen=True)
class _StateTables:
    """The rows that decide who may read what, as stored."""

    parties: frozenset[str]
    grants: frozenset[tuple[str, str, str, frozenset[str] | None]]
    shares: frozenset[tuple[str, str]]
    holds: frozenset[tuple[str, int]]  # open holds: (exhibit, seq of its hold_set)
    exhibits: dict[str, tuple[str, bool, bool]]  # id -> (owner, sealed, legal hold)


def _check_state_tables(entries: list[Entry], tables: _StateTables, report: AuditReport) -> None:
    """Fold the log with the custody rules (`custody.replay`, the verifier's own) and
    compare with the tables every read is checked against: a party, grant, share or hold
    row that the log does not explain would grant (or block) access silently."""
    state = replay(entries).state
    logged_exhibits = {
        exhibit_id: (x.owner, x.sealed, x.on_hold)
        for exhibit_id, x in state.exhibits.items()
        if x.owner is not None
    }
    for what, logged, stored in (
        ("parties", set(state.parties), set(tables.parties)),
        ("grants", {(*g.key, g.exhibits) for g in state.grants.values()}, set(tables.grants)),
        (
            "shares",
            {(x, j) for x, e in state.exhibits.items() for j in e.shares},
            set(tables.shares),
        ),
        (
            "holds",
            {(x, seq) for x, e in state.exhibits.items() for seq in e.holds},
            set(tables.holds),
        ),
    ):
        for extra in sorted(stored - logged, key=repr):
            report.error(f"{what} table", f"{_shown(extra)} is stored but no log entry grants it")
        for missing in sorted(logged - stored, key=repr):
            report.error(f"{what} table", f"{_shown(missing)} is in the log but not stored")
    for exhibit_id, stored_state in sorted(tables.exhibits.items()):
        logged_state = logged_exhibits.get(exhibit_id)
        if logged_state is None:
            report.error(f"exhibit {exhibit_id}", "stored, but never registered in the log")
        elif logged_state != stored_state:
            report.error(
                f"exhibit {exhibit_id}",
                f"stored (owner, sealed, hold) {stored_state} differ from the log's {logged_state}",
            )


def _shown(row: Sequence[object]) -> str:
    return repr(tuple(sorted(x) if isinstance(x, frozenset) else x for x in row))


def _check_objects(ws: Workspace, case_id: str, entries: list[Entry], report: AuditReport) -> None:
    disposed = {e.exhibit for e in entries if e.type == "exhibit.disposed"}
    for entry in entries:
        if entry.type != "exhibit.ingested" or entry.exhibit is None:
            continue
        key = exhibit_key(case_id, entry.exhibit)
        subject = f"object {key.path}"
        report.objects += 1
        try:
            found = ws.store.rehash(key)
        except ObjectNotFoundError:
            if entry.exhibit not in disposed:
                report.error(subject, f"missing, though ingested at entry {entry.seq}")
            continue
        except EvidenceError as exc:
            report.error(subject, f"cannot be read: {exc}")
            continue
        data = entry.data
        claimed = (data["size"], data["sha256"], data["blake3"])
        actual = (found.size, found.sha256_hex, found.blake3_hex)
        if actual != claimed:
            report.error(
                subject,
                f"stored bytes are {actual[0]} bytes, sha256 {actual[1]}; the ingest entry "
                f"{entry.seq} says {claimed[0]} bytes, sha256 {claimed[1]}",
            )
