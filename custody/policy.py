"""C2SP tlog-policy: which logs and witnesses are trusted, and the witness quorum.

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <name>...
    quorum <name>|none

Lines end in "\\n"; items are separated by spaces and tabs; blank lines and lines whose
first non-blank character is '#' are ignored. A group or the quorum may only name
witnesses and groups defined on preceding lines. Log vkeys are Ed25519 note keys (type
0x01) whose key name is the log origin; witness vkeys are Ed25519 cosignature/v1 keys
(type 0x04). Other key types are refused: this library cannot verify them.

`verify_cosigned_checkpoint` (report mode) and `require_cosigned_checkpoint` (raising
mode) check a cosigned checkpoint note against a policy (custody-log-v1 §6 check 5).
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Literal

from custody.checkpoint import Checkpoint
from custody.cosignature import CosignatureVerifier
from custody.errors import (
    KeyFormatError,
    NoteFormatError,
    PolicyFormatError,
    QuorumNotMetError,
    SignatureError,
)
from custody.note import (
    Note,
    NoteSignature,
    NoteVerifier,
    is_valid_key_name,
    parse_ascii_decimal,
)

__all__ = [
    "MAX_POLICY_GROUPS",
    "MAX_POLICY_LOGS",
    "MAX_POLICY_WITNESSES",
    "NONE",
    "CheckpointVerdict",
    "Policy",
    "PolicyGroup",
    "PolicyLog",
    "PolicyWitness",
    "Threshold",
    "WitnessCosignature",
    "build_policy",
    "require_cosigned_checkpoint",
    "verify_cosigned_checkpoint",
]

# tlog-policy: the predefined name `none`; valid for the quorum, invalid as a member.
NONE = "none"
# tlog-policy "Implementation limits": support at least 32 logs, 32 witnesses, 32 groups.
MAX_POLICY_LOGS = 256
MAX_POLICY_WITNESSES = 256
MAX_POLICY_GROUPS = 256
_MAX_POLICY_BYTES = 1 << 20

Threshold = int | Literal["all", "any"]

# tlog-policy "Character set": only tab, newline, 0x20-0x7E and 0x80-0xFF.
_FORBIDDEN_CHAR = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WHITESPACE = re.compile(r"[ \t]+")
_TOKEN_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")


def _check_token(value: str, what: str) -> None:
    if not value or _TOKEN_FORBIDDEN.search(value):
        raise PolicyFormatError(f"{what} {value!r} is empty or contains whitespace")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PolicyFormatError(f"{what} {value!r} is not valid UTF-8") from exc


def _check_url(url: str | None) -> None:
    if url is not None:
        _check_token(url, "URL")


@dataclass(frozen=True)
class PolicyLog:
    """A trusted log: its vkey (key name = origin) and optional URL."""

    vkey: str
    url: str | None = None
    verifier: NoteVerifier = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            verifier = NoteVerifier.from_vkey(self.vkey)
        except KeyFormatError as exc:
            raise PolicyFormatError(f"log vkey: {exc}") from exc
        _check_url(self.url)
        object.__setattr__(self, "verifier", verifier)

    @property
    def name(self) -> str:
        """The key name, which tlog-policy says MUST be the log's origin."""
        return self.verifier.name


@dataclass(frozen=True)
class PolicyWitness:
    """A witness: its policy name (e.g. a jurisdiction, `NL-1`), vkey and optional URL."""

    name: str
    vkey: str
    url: str | None = None
    verifier: CosignatureVerifier = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        try:
            verifier = CosignatureVerifier.from_vkey(self.vkey)
        except KeyFormatError as exc:
            raise PolicyFormatError(f"witness {self.name!r} vkey: {exc}") from exc
        _check_url(self.url)
        object.__setattr__(self, "verifier", verifier)


@dataclass(frozen=True)
class PolicyGroup:
    """A group that witnesses a checkpoint iff at least k of its members did."""

    name: str
    threshold: Threshold
    members: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_name(self.name)
        # tlog-policy: at least one member; `any` is k = 1, `all` is k = n; 1 <= k <= n.
        if not self.members:
            raise PolicyFormatError(f"group {self.name!r} has no members")
        if self.threshold not in ("all", "any"):
            if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
                raise PolicyFormatError(f"group {self.name!r} threshold must be all, any or k")
            if not 1 <= self.threshold <= len(self.members):
                raise PolicyFormatError(
                    f"group {self.name!r} threshold {self.threshold} is not between 1 and "
                    f"its {len(self.members)} member(s)"
                )
        for member in self.members:
            _check_token(member, "group member")
            if member == NONE:
                raise PolicyFormatError(f"group {self.name!r}: `none` cannot be a member")
        # tlog-policy: each defined name can be listed as a group member at most once.
        if len(set(self.members)) != len(self.members):
            raise PolicyFormatError(f"group {self.name!r} lists a member twice")

    @property
    def k(self) -> int:
        if self.threshold == "all":
            return len(self.members)
        if self.threshold == "any":
            return 1
        return self.threshold


def _check_name(name: str) -> None:
    _check_token(name, "name")
    if name == NONE:
        raise PolicyFormatError("`none` is predefined and cannot name a witness or group")


class _Namespace:
    """Applies the tlog-policy definition rules one definition at a time, in file order."""

    def __init__(self) -> None:
        self.logs: list[PolicyLog] = []
        self.witnesses: list[PolicyWitness] = []
        self.groups: list[PolicyGroup] = []
        # tlog-policy: witnesses and groups share a single namespace.
        self.defined: set[str] = set()

    def add_log(self, log: PolicyLog) -> None:
        # tlog-policy: duplicate logs (the same public key) are not allowed.
        if any(other.verifier.public_key == log.verifier.public_key for other in self.logs):
            raise PolicyFormatError(f"duplicate log key {log.vkey}")
        if len(self.logs) == MAX_POLICY_LOGS:
            raise PolicyFormatError(f"more than {MAX_POLICY_LOGS} logs")
        self.logs.append(log)

    def add_witness(self, witness: PolicyWitness) -> None:
        if witness.name in self.defined:
            raise PolicyFormatError(f"name {witness.name!r} is defined twice")
        # tlog-policy: two vkeys are duplicate if they wrap the same public key, even
        # if they differ by key name and key ID.
        for other in self.witnesses:
            if other.verifier.public_key == witness.verifier.public_key:
                raise PolicyFormatError(
                    f"witnesses {other.name!r} and {witness.name!r} have the same public key"
                )
        if len(self.witnesses) == MAX_POLICY_WITNESSES:
            raise PolicyFormatError(f"more than {MAX_POLICY_WITNESSES} witnesses")
        self.witnesses.append(witness)
        self.defined.add(witness.name)

    def add_group(self, group: PolicyGroup) -> None:
        if group.name in self.defined:
            raise PolicyFormatError(f"name {group.name!r} is defined twice")
        # tlog-policy: a group can only reference names defined on preceding lines
        # (which also rules out circular definitions).
        for member in group.members:
            if member not in self.defined:
                raise PolicyFormatError(
                    f"group {group.name!r} names {member!r}, which is not defined before it"
                )
        if len(self.groups) == MAX_POLICY_GROUPS:
            raise PolicyFormatError(f"more than {MAX_POLICY_GROUPS} groups")
        self.groups.append(group)
        self.defined.add(group.name)

    def check_quorum(self, name: str) -> str | None:
        # tlog-policy: the quorum names a witness or group defined earlier, or `none`.
        if name == NONE:
            return None
        if name not in self.defined:
            raise PolicyFormatError(f"quorum {name!r} is not a witness or group defined before it")
        return name


@dataclass(frozen=True)
class Policy:
    """A parsed tlog-policy. `quorum` is None for `quorum none`.

    A checkpoint is valid under the policy if one of `logs` signed it and the witnesses
    whose cosignatures verified satisfy the quorum (`quorum_met`).
    """

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str | None

    def __post_init__(self) -> None:
        # Replays the definitions in to_text() order: logs, witnesses, groups, quorum.
        namespace = _Namespace()
        for log in self.logs:
            namespace.add_log(log)
        for witness in self.witnesses:
            namespace.add_witness(witness)
        for group in self.groups:
            namespace.add_group(group)
        if self.quorum == NONE:
            raise PolicyFormatError("use None, not 'none', for `quorum none`")
        if self.quorum is not None:
            namespace.check_quorum(self.quorum)

    @classmethod
    def parse(cls, text: str | bytes) -> Policy:
        """Parse a tlog-policy file strictly; raises PolicyFormatError."""
        if isinstance(text, bytes):
            if len(text) > _MAX_POLICY_BYTES:
                raise PolicyFormatError("policy is too large")
            try:
                # tlog-policy treats non-ASCII octets as opaque and strongly recommends
                # UTF-8; vkey key names must be UTF-8 (signed-note), so we require it.
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PolicyFormatError("policy is not valid UTF-8") from exc
        if len(text) > _MAX_POLICY_BYTES:
            raise PolicyFormatError("policy is too large")
        if (bad := _FORBIDDEN_CHAR.search(text)) is not None:
            where = text.count("\n", 0, bad.start()) + 1
            raise PolicyFormatError(
                f"line {where}: control character {bad.group()!r} is not allowed (only tab "
                "and newline are)"
            )
        # tlog-policy: "each line is terminated by ASCII newline".
        if text and not text.endswith("\n"):
            raise PolicyFormatError("policy must end with a newline")
        namespace = _Namespace()
        quorum: str | None = None
        quorum_line = 0
        for number, raw in enumerate(text.split("\n")[:-1], start=1):
            line = raw.strip(" \t")
            if not line or line.startswith("#"):
                continue  # tlog-policy: empty and comment lines are ignored
            keyword, *args = _WHITESPACE.split(line)
            try:
                if keyword == "log" and len(args) in (1, 2):
                    namespace.add_log(PolicyLog(args[0], _optional(args, 1)))
                elif keyword == "witness" and len(args) in (2, 3):
                    namespace.add_witness(PolicyWitness(args[0], args[1], _optional(args, 2)))
                elif keyword == "group" and len(args) >= 3:
                    group = PolicyGroup(args[0], _parse_threshold(args[1]), tuple(args[2:]))
                    namespace.add_group(group)
                elif keyword == "quorum" and len(args) == 1:
                    # tlog-policy: a policy file must include exactly one quorum line.
                    if quorum_line:
                        raise PolicyFormatError(f"second quorum line (first on line {quorum_line})")
                    quorum = namespace.check_quorum(args[0])
                    quorum_line = number
                elif keyword in ("log", "witness", "group", "quorum"):
                    raise PolicyFormatError(f"wrong number of items on a {keyword} line")
                else:
                    raise PolicyFormatError(f"unknown directive {keyword!r}")
            except PolicyFormatError as exc:
                raise PolicyFormatError(f"line {number}: {exc}") from exc
        if not quorum_line:
            raise PolicyFormatError("policy has no quorum line")
        return cls(
            tuple(namespace.logs), tuple(namespace.witnesses), tuple(namespace.groups), quorum
        )

    def to_text(self) -> str:
        """The policy as a tlog-policy file (comments and layout are not kept)."""
        lines = [_join("log", log.vkey, log.url) for log in self.logs]
        lines += [_join("witness", w.name, w.vkey, w.url) for w in self.witnesses]
        lines += [" ".join(["group", g.name, str(g.threshold), *g.members]) for g in self.groups]
        lines.append(f"quorum {self.quorum if self.quorum is not None else NONE}")
        return "".join(line + "\n" for line in lines)

    def quorum_met(self, cosigners: Set[str]) -> bool:
        """Whether witnesses named in `cosigners` (policy names of the witnesses whose
        cosignatures verified) satisfy the quorum. `quorum none` is always met.

        Only witness names count: a group name in `cosigners` satisfies nothing.
        """
        if self.quorum is None:
            return True
        witnesses = {w.name for w in self.witnesses}
        groups = {g.name: g for g in self.groups}
        memo: dict[str, bool] = {}

        def witnessed(name: str) -> bool:
            # tlog-policy: a group witnesses iff at least k of its n members witnessed;
            # for a single witness, "witnessing" is cosigning.
            if name not in memo:
                if name in witnesses:
                    memo[name] = name in cosigners
                else:
                    group = groups[name]
                    count = sum(1 for member in group.members if witnessed(member))
                    memo[name] = count >= group.k
            return memo[name]

        return witnessed(self.quorum)

    def logs_for_origin(self, origin: str) -> tuple[PolicyLog, ...]:
        """The logs whose key name is `origin` (tlog-policy: the name MUST be the origin)."""
        return tuple(log for log in self.logs if log.name == origin)

    def witness_for_signature(self, sig: NoteSignature) -> PolicyWitness | None:
        """The witness whose key (name and key ID) made the signature line, if any."""
        for witness in self.witnesses:
            if sig.name == witness.verifier.name and sig.key_id == witness.verifier.key_id:
                return witness
        return None

    def witness(self, name: str) -> PolicyWitness | None:
        for witness in self.witnesses:
            if witness.name == name:
                return witness
        return None


def _optional(args: Sequence[str], index: int) -> str | None:
    return args[index] if len(args) > index else None


def _join(*items: str | None) -> str:
    return " ".join(item for item in items if item is not None)


def _parse_threshold(word: str) -> Threshold:
    if word == "all":
        return "all"
    if word == "any":
        return "any"
    # tlog-policy: k "must be written in decimal"; we also refuse leading zeros.
    try:
        return parse_ascii_decimal(word, max_value=MAX_POLICY_WITNESSES + MAX_POLICY_GROUPS)
    except ValueError as exc:
        raise PolicyFormatError(f"group threshold {word!r} is not all, any or k: {exc}") from exc


_QUORUM_GROUP = "witnesses"


def build_policy(
    log_vkey: str,
    witnesses: Sequence[tuple[str, str]],
    *,
    quorum: int | Literal["all", "any"] | None,
) -> Policy:
    """The policy of a court bundle (custody-log-v1 §5): the log line, a witness line per
    (name, vkey) and the quorum, as a group named `witnesses` with threshold `quorum`.

    With no witnesses, or quorum None, the policy says `quorum none`.
    """
    log = PolicyLog(log_vkey)
    members = tuple(PolicyWitness(name, vkey) for name, vkey in witnesses)
    if not members or quorum is None:
        return Policy((log,), members, (), None)
    group = PolicyGroup(_QUORUM_GROUP, quorum, tuple(w.name for w in members))
    return Policy((log,), members, (group,), _QUORUM_GROUP)


def make_policy(
    log_vkey: str,
    witness_vkeys: Sequence[str],
    *,
    quorum: str | None = None,
    origin: str | None = None,
) -> Policy:
    """A policy made only from keys a user obtained themselves (`jitc policy make`): each
    witness is named by its vkey's key name; `quorum` is "all" (the default), "any" or a
    number k of the witnesses; without witnesses the policy says `quorum none`. `origin`
    renames the log key (spec 4: one key serves every case, under each case's origin).
    Raises PolicyFormatError, naming the key or value at fault."""
    try:
        log = NoteVerifier.from_vkey(log_vkey)
    except KeyFormatError as exc:
        raise PolicyFormatError(f"--log: {exc}") from None
    if origin is not None:
        if not is_valid_key_name(origin):
            raise PolicyFormatError(f"--origin {origin!r} is not a valid key name")
        log = log.for_name(origin)
    witnesses: list[tuple[str, str]] = []
    for vkey in witness_vkeys:
        try:
            name = CosignatureVerifier.from_vkey(vkey).name
        except KeyFormatError as exc:
            raise PolicyFormatError(f"--witness {vkey[:40]!r}: {exc}") from None
        if any(name == seen for seen, _ in witnesses):
            raise PolicyFormatError(f"--witness: two keys are named {name!r}")
        witnesses.append((name, vkey))
    if not witnesses:
        if quorum is not None:
            raise PolicyFormatError("--quorum needs at least one --witness")
        return build_policy(log.vkey(), (), quorum=None)
    return build_policy(log.vkey(), witnesses, quorum=_quorum(quorum, len(witnesses)))


def _quorum(text: str | None, count: int) -> int | Literal["all", "any"]:
    if text is None or text == "all":
        return "all"
    if text == "any":
        return "any"
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= count:
        raise PolicyFormatError(
            f"--quorum {text!r} is not all, any or a number from 1 to {count} (the witnesses)"
        )
    return int(text)


# --- verifying a cosigned checkpoint against a policy ---


@dataclass(frozen=True)
class WitnessCosignature:
    """A cosignature that verified: the witness's policy name and the cosigned time."""

    witness: str
    timestamp: int  # POSIX seconds (tlog-cosignature)


@dataclass(frozen=True)
class CheckpointVerdict:
    """What a verifier found about a log-signed checkpoint and its cosignatures."""

    checkpoint: Checkpoint
    log: PolicyLog
    cosignatures: tuple[WitnessCosignature, ...]  # in policy order
    bad_signatures: tuple[str, ...]  # witnesses whose (known-key) line did not verify
    quorum_met: bool

    @property
    def verified_witnesses(self) -> tuple[str, ...]:
        return tuple(c.witness for c in self.cosignatures)

    @property
    def cosigners(self) -> frozenset[str]:
        """Policy names of the witnesses whose cosignature verified."""
        return frozenset(c.witness for c in self.cosignatures)

    @property
    def timestamps(self) -> dict[str, int]:
        return {c.witness: c.timestamp for c in self.cosignatures}

    @property
    def newest_timestamp(self) -> int | None:
        return max((c.timestamp for c in self.cosignatures), default=None)

    @property
    def ok(self) -> bool:
        """Quorum met and no bad signature from a known witness key (C2SP signed-note:
        if a signature from a known key fails to verify, clients SHOULD reject the note)."""
        return self.quorum_met and not self.bad_signatures


def verify_cosigned_checkpoint(
    note: Note, policy: Policy, *, origin: str, allow_extensions: bool = True
) -> CheckpointVerdict:
    """Verify the log signature and every known witness's cosignature of `note`.

    Raises SignatureError if no policy log for `origin` signed the note (or its
    signature fails), or if the checkpoint's origin line is not `origin`; NoteFormatError
    if the text is not a checkpoint. Extension lines are legal C2SP and are covered by
    every signature here, so they are allowed and exposed in `verdict.checkpoint`;
    `allow_extensions=False` refuses them (custody-log-v1 §4; the bundle verifier
    reports that rule itself). Witness findings go in the verdict: lines from unknown
    keys are ignored, a bad line from a known witness key is listed in `bad_signatures`.
    """
    log = _verify_log_signature(note, policy, origin)
    checkpoint = Checkpoint.parse_body(note.text)
    # NOTE: Ed25519 note signatures do not commit to the key name, and one server key
    # signs every case (custody-log-v1 §4). A checkpoint of case B, its signature line
    # renamed to case A's origin with the key ID recomputed, verifies under A's vkey;
    # only this check of the signed origin line stops that cross-case replay.
    if checkpoint.origin != origin:
        raise SignatureError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected origin {origin!r}"
        )
    if checkpoint.extensions and not allow_extensions:
        raise NoteFormatError("custody-log-v1 §4: checkpoints have no extension lines")

    cosignatures: list[WitnessCosignature] = []
    bad: list[str] = []
    for witness in policy.witnesses:
        # C2SP signed-note: lines whose (name, key ID) is not a known key are ignored.
        sigs = note.signatures_for(witness.verifier.name, witness.verifier.key_id)
        if not sigs:
            continue
        stamps = [witness.verifier.verify(note.text, sig) for sig in sigs]
        if any(stamp is None for stamp in stamps):
            bad.append(witness.name)
        else:
            cosignatures.append(
                WitnessCosignature(witness.name, max(s for s in stamps if s is not None))
            )
    met = policy.quorum_met(frozenset(c.witness for c in cosignatures))
    return CheckpointVerdict(checkpoint, log, tuple(cosignatures), tuple(bad), met)


def require_cosigned_checkpoint(
    note: Note, policy: Policy, *, origin: str, allow_extensions: bool = True
) -> CheckpointVerdict:
    """Raising mode of `verify_cosigned_checkpoint`: also raises SignatureError for a bad
    cosignature from a known witness and QuorumNotMetError when the quorum is not met."""
    verdict = verify_cosigned_checkpoint(
        note, policy, origin=origin, allow_extensions=allow_extensions
    )
    if verdict.bad_signatures:
        raise SignatureError(
            "cosignature does not verify for witness(es): " + ", ".join(verdict.bad_signatures)
        )
    if not verdict.quorum_met:
        have = ", ".join(verdict.verified_witnesses) or "no witness"
        raise QuorumNotMetError(f"witness quorum {policy.quorum!r} not met (cosigned by {have})")
    return verdict


def _verify_log_signature(note: Note, policy: Policy, origin: str) -> PolicyLog:
    # tlog-policy: a checkpoint is valid if signed by any one of the listed logs, whose
    # vkey key name MUST be the origin.
    logs = policy.logs_for_origin(origin)
    if not logs:
        raise SignatureError(f"the policy has no log key for origin {origin!r}")
    verified: PolicyLog | None = None
    for log in logs:
        sigs = note.signatures_for(log.verifier.name, log.verifier.key_id)
        if not sigs:
            continue
        # C2SP signed-note: a known key's signature MUST be verified; if it fails,
        # clients SHOULD reject the whole note.
        if not all(log.verifier.verify(note.text, sig) for sig in sigs):
            raise SignatureError(f"log signature of {log.vkey} does not verify")
        verified = verified or log
    if verified is None:
        raise SignatureError(f"checkpoint has no signature from a log key for origin {origin!r}")
    return verified
