"""Court bundles in the revised format (custody-log-v1 of 2026-12-04), written from the spec.

A small, deterministic writer of its own (fixed keys, fixed clock), independent of the
custody package's exporter: the two verifiers are checked against bundles that neither
of them wrote. It makes the valid bundles, one bundle per failing check or custody rule,
and the base that the hostile catalogue (`catalogue.py`) mutates.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import blake3
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

LOG_NAME = "jitc.webverify.test"
CASE_ID = "7a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
ORIGIN = f"{LOG_NAME}/case/{CASE_ID}"
PHONE = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
DISK = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"
T0 = datetime(2026, 11, 2, 8, 30, 0, 123456, tzinfo=UTC)
CREATED = "2026-11-20T10:00:00.000000Z"
CREATED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PHONE_BYTES = b"UFED extraction of a seized handset\n" + bytes(range(256)) * 64
DISK_BYTES = b"E01 image of a laptop disk\n" + b"\x00\xff" * 5000
ZERO = bytes(32)
EM_DASH = "\u2014"

Entry = dict[str, Any]
Members = dict[str, bytes]


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"jitc webverify key: " + label.encode()).digest()


@dataclass(frozen=True)
class Key:
    """A named Ed25519 key of one signed-note signature type (0x01 note, 0x04 cosignature)."""

    name: str
    kind: int
    private: Ed25519PrivateKey

    @classmethod
    def make(cls, name: str, kind: int, label: str) -> Key:
        return cls(name, kind, Ed25519PrivateKey.from_private_bytes(_seed(label)))

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def key_id(self) -> bytes:
        # C2SP signed-note: SHA-256(name || 0x0A || type || public key)[:4]
        return hashlib.sha256(
            self.name.encode() + b"\n" + bytes([self.kind]) + self.public
        ).digest()[:4]

    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([self.kind]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def line(self, signature: bytes) -> str:
        return f"{EM_DASH} {self.name} {base64.b64encode(self.key_id + signature).decode()}\n"


LOG_KEY = Key.make(ORIGIN, 0x01, "log")
ROGUE_LOG_KEY = Key.make(ORIGIN, 0x01, "rogue log")
WITNESSES = {
    "NL-1": Key.make("witness.nl.example", 0x04, "witness NL"),
    "BE-1": Key.make("witness.be.example", 0x04, "witness BE"),
}


def policy_text(log_key: Key, witnesses: tuple[str, ...]) -> str:
    """C2SP tlog-policy as spec 5 describes policy.txt."""
    lines = [f"log {log_key.vkey()}"]
    lines += [f"witness {name} {WITNESSES[name].vkey()}" for name in witnesses]
    if witnesses:
        lines += [f"group witnesses all {' '.join(witnesses)}", "quorum witnesses"]
    else:
        lines.append("quorum none")
    return "".join(line + "\n" for line in lines)


def trusted_policy() -> str:
    """What a court would get from the states' authorities: the log and both witnesses."""
    return policy_text(LOG_KEY, ("NL-1", "BE-1"))


def canonical(value: Any) -> bytes:
    encoded: bytes = rfc8785.dumps(value)
    return encoded


def leaf_hash(line: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + line).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def inclusion_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1: PATH(m, D[n]), leaf sibling first."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_path(index, leaves[:k]), merkle_root(leaves[k:])]
    return [*inclusion_path(index - k, leaves[k:]), merkle_root(leaves[:k])]


def digests(content: bytes) -> dict[str, Any]:
    return {
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "blake3": blake3.blake3(content).hexdigest(),
    }


def actor(jurisdiction: str, sub: str, role: str) -> dict[str, Any]:
    return {"jurisdiction": jurisdiction, "sub": sub, "role": role, "token": f"tok-{sub}"}


SYSTEM = {"jurisdiction": "-", "sub": "system", "role": "system", "token": None}
NL_TECH = actor("NL", "tech-anna", "technician")
NL_INV = actor("NL", "inv-joris", "investigator")
NL_PROS = actor("NL", "pros-eva", "prosecutor")
BE_TECH = actor("BE", "tech-luc", "technician")
BE_INV = actor("BE", "inv-marie", "investigator")
BE_PROS = actor("BE", "pros-jan", "prosecutor")
BE_JUDGE = actor("BE", "judge-peeters", "judge")
DE_INV = actor("DE", "inv-klaus", "investigator")
FR_INV = actor("FR", "inv-claire", "investigator")
DEFENCE = actor("NL", "adv-de-vries", "defence")


@dataclass
class Log:
    """Appends entries as the server does: seq, prev, exhibit_prev and a rising clock."""

    entries: list[Entry] = field(default_factory=list)
    clock: datetime = T0

    def add(self, who: dict[str, Any], kind: str, exhibit: str | None, data: dict[str, Any]) -> int:
        self.clock += timedelta(minutes=7)
        self.entries.append(
            {
                "v": 1,
                "case": CASE_ID,
                "seq": len(self.entries),
                "prev": "",
                "time": self.clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "actor": who,
                "type": kind,
                "exhibit": exhibit,
                "exhibit_prev": None,
                "data": data,
            }
        )
        return len(self.entries) - 1


def chain(entries: list[Entry]) -> list[bytes]:
    """Fill in seq, prev and exhibit_prev (spec 2) and return the canonical lines."""
    lines: list[bytes] = []
    heads: dict[str, bytes] = {}
    for seq, entry in enumerate(entries):
        entry["seq"] = seq
        entry["prev"] = (leaf_hash(lines[-1]) if lines else ZERO).hex()
        exhibit = entry["exhibit"]
        entry["exhibit_prev"] = None if exhibit is None else heads.get(exhibit, ZERO).hex()
        line = canonical(entry)
        lines.append(line)
        if exhibit is not None:
            heads[exhibit] = leaf_hash(line)
    return lines


Story = Callable[[Log], None]


def standard_log(
    policy: str, *, extra: Story | None = None, notes: bool = False, phone: bytes = PHONE_BYTES
) -> Log:
    """A small JIT case between the Netherlands and Belgium that Germany joins."""
    log = Log()
    log.add(
        NL_PROS,
        "case.created",
        None,
        {"title": "Operation Copper Wire", "parties": ["NL", "BE"], "agreement": "JIT-2026-21"},
    )
    log.add(SYSTEM, "case.policy_set", None, {"policy": policy})
    log.add(
        NL_TECH,
        "exhibit.registered",
        PHONE,
        {
            "label": "NL-001 handset",
            "owner": "NL",
            "description": "Handset seized at Schiphol",
            "acquisition": {"tool": "UFED 7.70", "operator": "tech-anna", "hashes": {}},
        },
    )
    log.add(
        NL_TECH,
        "exhibit.ingested",
        PHONE,
        {
            **digests(phone),
            "filename": "handset.ufd",
            "media_type": "application/octet-stream",
        },
    )
    log.add(
        BE_TECH,
        "exhibit.registered",
        DISK,
        {
            "label": "BE-001 laptop",
            "owner": "BE",
            "description": "Laptop seized in Antwerp",
            "acquisition": {"tool": "FTK Imager 4.7", "operator": "tech-luc", "hashes": {}},
        },
    )
    log.add(
        BE_TECH,
        "exhibit.ingested",
        DISK,
        {**digests(DISK_BYTES), "filename": "laptop.E01", "media_type": "application/x-ewf"},
    )
    log.add(NL_PROS, "exhibit.shared", PHONE, {"jurisdiction": "BE", "conditions": "JIT only"})
    log.add(BE_INV, "exhibit.accessed", PHONE, {"purpose": "analysis", "range": None})
    log.add(NL_INV, "exhibit.accessed", PHONE, {"purpose": "analysis", "range": [0, 1023]})
    log.add(
        NL_PROS,
        "case.access_granted",
        None,
        {"jurisdiction": "NL", "sub": "adv-de-vries", "role": "defence", "exhibits": [PHONE]},
    )
    log.add(DEFENCE, "exhibit.accessed", PHONE, {"purpose": "defence review", "range": None})
    log.add(BE_TECH, "exhibit.sealed", DISK, {"reason": "analysis complete"})
    log.add(SYSTEM, "exhibit.verified", PHONE, {"ok": True, **_hashes(phone)})
    hold = log.add(
        NL_PROS, "exhibit.hold_set", PHONE, {"reason": "trial pending", "authority": "OM 26/114"}
    )
    proposal = log.add(NL_PROS, "case.party_proposed", None, {"jurisdiction": "DE"})
    log.add(BE_PROS, "case.party_approved", None, {"proposal": proposal})
    log.add(BE_PROS, "case.party_added", None, {"jurisdiction": "DE", "proposal": proposal})
    log.add(BE_PROS, "exhibit.shared", DISK, {"jurisdiction": "DE", "conditions": ""})
    log.add(DE_INV, "exhibit.accessed", DISK, {"purpose": "cross-check", "range": None})
    log.add(NL_PROS, "exhibit.hold_released", PHONE, {"reason": "verdict", "hold": hold})
    log.add(
        BE_PROS,
        "case.access_granted",
        None,
        {"jurisdiction": "BE", "sub": "judge-peeters", "role": "judge", "exhibits": None},
    )
    log.add(BE_JUDGE, "exhibit.accessed", DISK, {"purpose": "hearing", "range": None})
    judge_hold = log.add(
        BE_JUDGE, "exhibit.hold_set", DISK, {"reason": "appeal", "authority": "court order 7"}
    )
    log.add(BE_JUDGE, "exhibit.hold_released", DISK, {"reason": "appeal done", "hold": judge_hold})
    if notes:
        commitment = hashlib.sha256(bytes(32) + b"first look").hexdigest()
        log.add(NL_INV, "note.added", PHONE, {"commitment": commitment})
        log.add(NL_INV, "note.added", None, {"commitment": hashlib.sha256(b"x" * 40).hexdigest()})
    if extra is not None:
        extra(log)
    log.add(
        NL_PROS,
        "case.access_revoked",
        None,
        {"jurisdiction": "NL", "sub": "adv-de-vries", "role": "defence"},
    )
    return log


def _hashes(content: bytes) -> dict[str, Any]:
    found = digests(content)
    return {"sha256": found["sha256"], "blake3": found["blake3"]}


@dataclass
class Bundle:
    """What to write; `tamper` edits the finished members (as a forger of the ZIP would)."""

    extra: Story | None = None
    notes: bool = False
    disclosure: str = "full"
    disclosed: tuple[str, ...] = (PHONE, DISK)
    content: dict[str, bytes] = field(
        default_factory=lambda: {PHONE: PHONE_BYTES, DISK: DISK_BYTES}
    )
    witnesses: tuple[str, ...] = ("NL-1", "BE-1")
    cosigners: tuple[str, ...] = ("NL-1", "BE-1")
    log_key: Key = LOG_KEY
    cosign_time: datetime = CREATED_AT - timedelta(hours=1)
    bad_cosigner: str | None = None
    log_size_extra: int = 0
    edit_entries: Callable[[list[Entry]], None] | None = None
    edit_lines: Callable[[list[bytes]], list[bytes]] | None = None
    tamper: Callable[[Members], None] | None = None
    policy_in_bundle: str | None = None
    phone: bytes = PHONE_BYTES  # the handset's content (the benchmarks give a large one)


def checkpoint_body(size: int, root: bytes) -> str:
    """spec 4 / C2SP tlog-checkpoint: origin, size, base64 root, no extensions."""
    return f"{ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n"


def signed_checkpoint(bundle: Bundle, size: int, root: bytes) -> str:
    body = checkpoint_body(size, root)
    note = body + "\n" + bundle.log_key.line(bundle.log_key.private.sign(body.encode()))
    stamp = int(bundle.cosign_time.timestamp())
    for name in bundle.cosigners:
        signed = body if name != bundle.bad_cosigner else checkpoint_body(size, ZERO)
        message = f"cosignature/v1\ntime {stamp}\n{signed}".encode()
        signature = stamp.to_bytes(8, "big") + WITNESSES[name].private.sign(message)
        note += WITNESSES[name].line(signature)
    return note


def tlog_proof(index: int, line: bytes, leaves: list[bytes], note: str) -> bytes:
    """C2SP tlog-proof, with the entry's canonical bytes as its extra data."""
    head = ["c2sp.org/tlog-proof@v1", f"extra {base64.b64encode(line).decode()}", f"index {index}"]
    head += [base64.b64encode(h).decode() for h in inclusion_path(index, leaves)]
    return ("".join(item + "\n" for item in head) + "\n" + note).encode()


def render(bundle: Bundle) -> bytes:
    """The bundle's ZIP bytes."""
    policy = policy_text(bundle.log_key, bundle.witnesses)
    log = standard_log(policy, extra=bundle.extra, notes=bundle.notes, phone=bundle.phone)
    if bundle.edit_entries is not None:
        bundle.edit_entries(log.entries)
    lines = chain(log.entries)
    if bundle.edit_lines is not None:
        lines = bundle.edit_lines(lines)
    leaves = [leaf_hash(line) for line in lines]
    note = signed_checkpoint(bundle, len(lines), merkle_root(leaves))
    selective = bundle.disclosure == "selective"
    kept = [
        (seq, line)
        for seq, (line, entry) in enumerate(zip(lines, log.entries, strict=True))
        if not selective or entry["exhibit"] is None or entry["exhibit"] in bundle.disclosed
    ]
    members: Members = {}
    members["jitc-bundle.json"] = canonical(manifest(bundle, log, len(lines)))
    members["entries.jsonl"] = b"".join(line + b"\n" for _, line in kept)
    members["checkpoint"] = note.encode()
    members["policy.txt"] = (bundle.policy_in_bundle or policy).encode()
    if selective:
        for seq, line in kept:
            members[f"proofs/{seq}.tlog-proof"] = tlog_proof(seq, line, leaves, note)
    for exhibit, data in bundle.content.items():
        members[content_path(exhibit)] = data
    members["report.html"] = (
        b"<!doctype html><title>Exporter's report</title><p>Made by the exporter at export; "
        b"it says what the exporter checked, not that the recipient has verified anything."
    )
    if bundle.tamper is not None:
        bundle.tamper(members)
    return write_members(members)


FILENAMES = {PHONE: "handset.ufd", DISK: "laptop.E01"}
LABELS = {PHONE: "NL-001 handset", DISK: "BE-001 laptop"}
CONTENT = {PHONE: PHONE_BYTES, DISK: DISK_BYTES}


def content_path(exhibit: str) -> str:
    return f"exhibits/{exhibit}/{FILENAMES[exhibit]}"


def manifest(bundle: Bundle, log: Log, tree_size: int) -> dict[str, Any]:
    """spec 5 `jitc-bundle.json`."""
    exhibits = [
        {
            "id": exhibit,
            "label": LABELS[exhibit],
            "filename": FILENAMES[exhibit],
            **digests(bundle.phone if exhibit == PHONE else CONTENT[exhibit]),
            "content": content_path(exhibit) if exhibit in bundle.content else None,
        }
        for exhibit in bundle.disclosed
    ]
    return {
        "format": "jitc-bundle/1",
        "case": CASE_ID,
        "origin": ORIGIN,
        "created": CREATED,
        "disclosure": bundle.disclosure,
        "tree_size": tree_size,
        "log_size": tree_size + bundle.log_size_extra,
        "exhibits": exhibits,
        "recipient": "Rechtbank Amsterdam, case 13/654321-26",
    }


def read_members(data: bytes) -> Members:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(members: Members) -> bytes:
    """Metadata deflated, evidence stored (as the exporter writes them)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            stored = name.startswith("exhibits/")
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def valid_members() -> Members:
    return read_members(render(Bundle()))


# A selective bundle disclosing the phone, with its content.
SELECTIVE = {"disclosure": "selective", "disclosed": (PHONE,), "content": {PHONE: PHONE_BYTES}}
