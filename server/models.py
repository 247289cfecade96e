"""The workspace schema as SQLAlchemy tables. Alembic migrations create it; nothing else does.

Custody rows (log_heads, log_entries, log_nodes, checkpoints) are written only by
`server.services.custody_log`, in the same transaction as the change each entry records.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CODE = String(32)  # a jurisdiction code, e.g. "NL" or "DE-BY"
UUID_TEXT = String(36)  # lowercase canonical UUID text: the same on SQLite and PostgreSQL
HASH = LargeBinary(32)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp with time zone that comes back aware on every database: SQLite stores
    the text without a zone, so values are kept in UTC and read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Jurisdiction(Base):
    """A state taking part in the workspace (a JIT party, or a court's state)."""

    __tablename__ = "jurisdictions"
    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class JurisdictionKey(Base):
    """A state authority's ES256 public key (JWK), selected by kid; several allow rotation."""

    __tablename__ = "jurisdiction_keys"
    jurisdiction: Mapped[str] = mapped_column(
        CODE, ForeignKey("jurisdictions.code"), primary_key=True
    )
    kid: Mapped[str] = mapped_column(String(128), primary_key=True)
    jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RevokedToken(Base):
    __tablename__ = "revoked_tokens"
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[str] = mapped_column(UUID_TEXT, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    agreement: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(CODE)
    __table_args__ = (Index(None, "created_at", "id"),)


class CaseParty(Base):
    __tablename__ = "case_parties"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(
        CODE, ForeignKey("jurisdictions.code"), primary_key=True, index=True
    )


class CaseGrant(Base):
    """Court or defence access to one case for one user (jurisdiction, sub, role)."""

    __tablename__ = "case_grants"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(CODE, primary_key=True)
    sub: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    exhibits: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON list of the exhibit ids the grant discloses; NULL: all that the granting state
    may read (spec 2.1 case.access_granted `exhibits`)."""
    __table_args__ = (Index(None, "jurisdiction", "sub", "role"),)


class PartyProposal(Base):
    """A proposal to add a state to a case (spec 2.1 case.party_proposed), keyed by the
    seq of its entry, with the states whose consent it needs and those that gave it."""

    __tablename__ = "party_proposals"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(CODE)
    proposed_by: Mapped[str] = mapped_column(CODE)
    required: Mapped[str] = mapped_column(Text)  # JSON list: the parties when proposed
    consented: Mapped[str] = mapped_column(Text)  # JSON list: those that consented so far
    added_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Exhibit(Base):
    __tablename__ = "exhibits"
    id: Mapped[str] = mapped_column(UUID_TEXT, primary_key=True)
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"))
    label: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(CODE)
    acquisition: Mapped[str] = mapped_column(Text)  # canonical JSON, as logged
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_leaf: Mapped[bytes | None] = mapped_column(HASH, nullable=True)
    """Leaf hash of this exhibit's newest entry: the next entry's exhibit_prev (spec 2)."""
    __table_args__ = (Index(None, "case_id", "created_at", "id"),)


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[str] = mapped_column(UUID_TEXT, primary_key=True)
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"))
    exhibit_id: Mapped[str | None] = mapped_column(
        UUID_TEXT, ForeignKey("exhibits.id"), nullable=True
    )
    text: Mapped[str] = mapped_column(Text)
    commitment: Mapped[str] = mapped_column(String(64))  # SHA-256(salt || UTF-8 text), hex
    salt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """32 random bytes (hex), never in the log (spec 2.1 note.added); NULL for a note
    written before commitments were salted."""
    seq: Mapped[int] = mapped_column(BigInteger)  # the note.added entry
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (Index(None, "case_id", "seq"),)


class ExhibitShare(Base):
    """An exhibit shared by its owner state with another party state, with conditions of
    use (spec 2.1 exhibit.shared). Revoking sets revoked_at; sharing again clears it."""

    __tablename__ = "exhibit_shares"
    exhibit_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("exhibits.id"), primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(CODE, primary_key=True)
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"))
    conditions: Mapped[str] = mapped_column(Text)
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    shared_seq: Mapped[int] = mapped_column(BigInteger)  # the exhibit.shared entry
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    __table_args__ = (Index(None, "case_id", "jurisdiction"),)


class ExhibitHold(Base):
    """A hold on an exhibit (spec 2.1 exhibit.hold_set), named by the seq of its entry.
    Several may be open; `released_seq` is set by the exhibit.hold_released that ends it.
    `exhibits.legal_hold` says whether any is open (the store's legal hold mirrors it)."""

    __tablename__ = "exhibit_holds"
    exhibit_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("exhibits.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), index=True)
    jurisdiction: Mapped[str] = mapped_column(CODE)  # the state that set it
    role: Mapped[str] = mapped_column(String(32))  # prosecutor or judge
    sub: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    authority: Mapped[str] = mapped_column(Text)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# --- evidence content -------------------------------------------------------------------


class ExhibitContent(Base):
    """An exhibit's stored content, as its exhibit.ingested entry records it (spec 2.1).

    The row exists exactly when the entry does (same transaction); `removed` and
    `retained_until` say what disposal did (exhibit.disposed)."""

    __tablename__ = "exhibit_contents"
    exhibit_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("exhibits.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    blake3: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(Text)  # as the client gave it; never a path
    media_type: Mapped[str] = mapped_column(String(255))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ingested_seq: Mapped[int] = mapped_column(BigInteger)
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disposed_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    retained_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ContentUpload(Base):
    """A content write in progress: a tus upload, or a one-shot PUT being streamed.

    Written before any byte reaches the store and deleted in the transaction that logs
    the ingest, so a crash in between leaves a row that recovery finds (ADR 0012)."""

    __tablename__ = "content_uploads"
    id: Mapped[str] = mapped_column(UUID_TEXT, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "tus" or "put"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"))
    exhibit_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("exhibits.id"), index=True)
    actor: Mapped[str] = mapped_column(Text)  # the uploader, as the entry's actor (JSON)
    length: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    filename: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(255))
    expected_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LogHead(Base):
    """The head of one case's log; its row lock serialises appends (PostgreSQL)."""

    __tablename__ = "log_heads"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    last_leaf: Mapped[bytes] = mapped_column(HASH)
    last_time: Mapped[str] = mapped_column(String(32))
    peaks: Mapped[bytes] = mapped_column(LargeBinary)  # compact range: 32-byte hashes, joined


class LogEntry(Base):
    __tablename__ = "log_entries"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    leaf_hash: Mapped[bytes] = mapped_column(HASH)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    type: Mapped[str] = mapped_column(String(64))
    exhibit_id: Mapped[str | None] = mapped_column(UUID_TEXT, nullable=True)
    time: Mapped[str] = mapped_column(String(32))


class LogNode(Base):
    """Every perfect subtree of a case's Merkle tree: (level, index) covers leaves
    [index * 2**level, (index + 1) * 2**level). Level 0 holds the leaf hashes."""

    __tablename__ = "log_nodes"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(HASH)


class Checkpoint(Base):
    """A signed checkpoint; the primary key (case, size) means one size never gets two roots."""

    __tablename__ = "checkpoints"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root: Mapped[bytes] = mapped_column(HASH)
    note: Mapped[bytes] = mapped_column(LargeBinary)  # the signed note, log signature only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckpointCosignature(Base):
    """A witness's cosignature line for a checkpoint (C2SP tlog-cosignature)."""

    __tablename__ = "checkpoint_cosignatures"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (
        ForeignKeyConstraint(["case_id", "size"], ["checkpoints.case_id", "checkpoints.size"]),
    )


# --- witnesses, case policies and court bundle exports ---------------------------------


class JurisdictionWitness(Base):
    """A party state's witness (C2SP tlog-witness): where to submit checkpoints and the
    cosignature vkey (key type 0x04) to check its answers with. One per state; `name` is
    the vkey's key name (e.g. NL-1), also the witness's name in a case policy."""

    __tablename__ = "jurisdiction_witnesses"
    jurisdiction: Mapped[str] = mapped_column(
        CODE, ForeignKey("jurisdictions.code"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    vkey: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CasePolicy(Base):
    """A case's witness quorum when a prosecutor set one (no row: all parties' witnesses).
    Kept outside the custody log: docs/adr/0021-witness-submission-and-case-policy.md."""

    __tablename__ = "case_policies"
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"), primary_key=True)
    quorum: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: all
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(Text)  # "<jurisdiction>/<sub>"


class Export(Base):
    """A court bundle (spec 5) made for a recipient; the file lives under data_dir/exports."""

    __tablename__ = "exports"
    id: Mapped[str] = mapped_column(UUID_TEXT, primary_key=True)
    case_id: Mapped[str] = mapped_column(UUID_TEXT, ForeignKey("cases.id"))
    requested_by: Mapped[str] = mapped_column(CODE)  # the requesting state
    request: Mapped[str] = mapped_column(Text)  # JSON: the request and the requester
    status: Mapped[str] = mapped_column(String(16))  # pending, ready, refused
    tree_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bundle_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bundle_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # export.created
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (Index(None, "case_id", "created_at"),)


# --- exclusion between app servers ---------------------------------------------------------


class Lease(Base):
    """A named, expiring exclusive right shared by every app server of the database: the
    evidence store's upload and object leases (evidence.locking), and the server's own
    (an ingest being written, a witness being asked, export and re-verification slots).
    A row whose `expires_at` has passed may be taken over (ADR 0036)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    holder: Mapped[str] = mapped_column(Text)  # host/pid/random: one acquisition
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


__all__ = [
    "Base",
    "Case",
    "CaseGrant",
    "CaseParty",
    "CasePolicy",
    "Checkpoint",
    "CheckpointCosignature",
    "ContentUpload",
    "Exhibit",
    "ExhibitContent",
    "ExhibitHold",
    "ExhibitShare",
    "Export",
    "Jurisdiction",
    "JurisdictionKey",
    "JurisdictionWitness",
    "Lease",
    "LogEntry",
    "LogHead",
    "LogNode",
    "Note",
    "PartyProposal",
    "RevokedToken",
]


def table(model: type[Base]) -> Table:
    """A model's Core table, typed as such (repositories build statements on tables)."""
    result = model.__table__
    assert isinstance(result, Table)
    return result
