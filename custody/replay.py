"""The custody rules, stated once: a case's state folded entry by entry (spec 6 check 7).

Everyone who asks "was this allowed?" or "is this allowed now?" asks this module: the
offline verifier (check 7), the server's `jitc audit`, and the server's permission
decisions on content. Two ways to get a `CaseState`:

- fold a log: `state = CaseState()`, then `violations = state.apply(entry)` for each entry
  in `seq` order (or `replay(entries)` for all of them). `apply` returns the rules the entry
  breaks, as `Violation` values (rule id, message, seq); it never raises for a broken rule.
- build it from stored rows: `CaseState.from_tables(parties=..., grants=..., exhibits=...)`,
  with only the part a decision needs (the actor's grants, the exhibits concerned), each
  exhibit an `ExhibitState(owner=..., shares=..., disposed=...)`.

Then `state.read_refusal(jurisdiction, sub, role, exhibit)` answers "may this actor read
this exhibit's content now": None if it may, else the `Refusal` saying why not
(`state.may_read(...)` is the same answer as a bool). The fold checks every
`exhibit.accessed` with that same rule, so the server and the verifier cannot drift apart.

Pure and deterministic: no clock, no I/O. An entry is applied as the log records it; an
entry that breaks a rule still changes the state the way it says (the verifier reports the
break, it does not pretend the event did not happen).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from custody.entry import Entry
from custody.events import COURT_ROLES, EventType

__all__ = [
    "CaseState",
    "ExhibitState",
    "Grant",
    "GrantKey",
    "Hold",
    "Refusal",
    "Replay",
    "Rule",
    "Violation",
    "replay",
]


class Rule(StrEnum):
    """The custody rules of spec 6 check 7, each with a stable id."""

    ACCESS = "access"  # accessed only with standing: owner, unrevoked share, or a grant
    INGEST_ONCE = "ingest-once"  # content never changes once stored
    INGEST_AFTER_SEAL = "ingest-after-seal"  # no content after a seal
    AFTER_DISPOSAL = "after-disposal"  # no event on an exhibit after its disposal


class Refusal(StrEnum):
    """Why an actor may not read an exhibit's content."""

    UNKNOWN_EXHIBIT = "unknown-exhibit"  # never registered (nor named) in this case
    NO_STANDING = "no-standing"  # neither owner, nor holding a share, nor granted
    DISPOSED = "disposed"  # the content is gone


@dataclass(frozen=True, slots=True)
class Violation:
    """An entry that breaks a custody rule. `message` does not repeat the seq."""

    rule: Rule
    message: str
    seq: int


GrantKey = tuple[str, str, str]
"""(jurisdiction, sub, role): whom a `case.access_granted` names."""


@dataclass(frozen=True, slots=True)
class Grant:
    """Court or defence access to a case (spec 2.1 `case.access_granted`)."""

    jurisdiction: str
    sub: str
    role: str
    exhibits: frozenset[str] | None = None  # None: all the granting state may read

    @property
    def key(self) -> GrantKey:
        return (self.jurisdiction, self.sub, self.role)


@dataclass(frozen=True, slots=True)
class Hold:
    """An open hold on an exhibit (spec 2.1 `exhibit.hold_set`): who set it, at which seq."""

    seq: int
    jurisdiction: str
    role: str


@dataclass(slots=True)
class ExhibitState:
    """What the log says of one exhibit at the current point."""

    owner: str | None = None
    shares: dict[str, str] = field(default_factory=dict)  # jurisdiction -> conditions
    ingested: Mapping[str, Any] | None = None  # data of its exhibit.ingested
    sealed: bool = False
    disposed: bool = False
    holds: dict[int, Hold] = field(default_factory=dict)  # open holds by their seq

    @property
    def on_hold(self) -> bool:
        return bool(self.holds)

    def readable_by_state(self, jurisdiction: str) -> bool:
        """spec 6.7: the state owns the exhibit or holds an unrevoked share of it."""
        return jurisdiction == self.owner or jurisdiction in self.shares


_NO_VIOLATIONS: Final[tuple[Violation, ...]] = ()


@dataclass(slots=True)
class CaseState:
    """A case as its log has built it up to some point."""

    parties: set[str] = field(default_factory=set)
    grants: dict[GrantKey, Grant] = field(default_factory=dict)
    exhibits: dict[str, ExhibitState] = field(default_factory=dict)

    @classmethod
    def from_tables(
        cls,
        *,
        parties: Iterable[str] = (),
        grants: Iterable[Grant] = (),
        exhibits: Mapping[str, ExhibitState] | None = None,
    ) -> CaseState:
        """The state as stored rows describe it (the server's tables), for decisions such
        as `read_refusal`. Give only what the decision needs: the actor's grants and the
        exhibits concerned."""
        return cls(
            parties=set(parties),
            grants={grant.key: grant for grant in grants},
            exhibits=dict(exhibits or {}),
        )

    # --- the one answer to "may this actor read this exhibit's content now" -------------

    def read_refusal(self, jurisdiction: str, sub: str, role: str, exhibit: str) -> Refusal | None:
        """None if the actor may read the exhibit's content now, else why not (spec 6.7)."""
        state = self.exhibits.get(exhibit)
        if state is None:
            return Refusal.UNKNOWN_EXHIBIT
        refusal = self._standing_refusal(state, jurisdiction, sub, role, exhibit)
        if refusal is None and state.disposed:
            return Refusal.DISPOSED
        return refusal

    def may_read(self, jurisdiction: str, sub: str, role: str, exhibit: str) -> bool:
        return self.read_refusal(jurisdiction, sub, role, exhibit) is None

    def _standing_refusal(
        self, state: ExhibitState, jurisdiction: str, sub: str, role: str, exhibit: str
    ) -> Refusal | None:
        # spec 6.7: the owner state or a state holding an unrevoked share; a judge or
        # defence lawyer through a grant that lists the exhibit (or all) and whose state
        # may read it at that point.
        if role in COURT_ROLES:
            grant = self.grants.get((jurisdiction, sub, role))
            if (
                grant is not None
                and (grant.exhibits is None or exhibit in grant.exhibits)
                and state.readable_by_state(grant.jurisdiction)
            ):
                return None
            return Refusal.NO_STANDING
        if state.readable_by_state(jurisdiction):
            return None
        return Refusal.NO_STANDING

    # --- folding the log ----------------------------------------------------------------

    def apply(self, entry: Entry) -> tuple[Violation, ...]:
        """Fold one entry (the next in seq order) into the state; return the rules it breaks."""
        handler = _HANDLERS.get(entry.type)
        exhibit_id = entry.exhibit
        if exhibit_id is None:
            return _NO_VIOLATIONS if handler is None else handler(self, entry, None)
        state = self.exhibits.get(exhibit_id)
        if state is None:
            state = self.exhibits[exhibit_id] = ExhibitState()
        if not state.disposed:
            return _NO_VIOLATIONS if handler is None else handler(self, entry, state)
        late = Violation(
            Rule.AFTER_DISPOSAL,
            f"{entry.type} on exhibit {exhibit_id} after it was disposed",
            entry.seq,
        )
        return (late,) if handler is None else (late, *handler(self, entry, state))


_Handler = Callable[[CaseState, Entry, ExhibitState | None], tuple[Violation, ...]]


def _exhibit(state: ExhibitState | None) -> ExhibitState:
    # Handlers of exhibit events are called with the exhibit's state (spec 2.1: those
    # types must name an exhibit, and Entry.parse refuses one that does not).
    assert state is not None
    return state


def _on_created(case: CaseState, entry: Entry, _: ExhibitState | None) -> tuple[Violation, ...]:
    case.parties.update(entry.data["parties"])
    return _NO_VIOLATIONS


def _on_party_added(case: CaseState, entry: Entry, _: ExhibitState | None) -> tuple[Violation, ...]:
    case.parties.add(entry.data["jurisdiction"])
    return _NO_VIOLATIONS


def _on_party_removed(
    case: CaseState, entry: Entry, _: ExhibitState | None
) -> tuple[Violation, ...]:
    case.parties.discard(entry.data["jurisdiction"])
    return _NO_VIOLATIONS


def _on_granted(case: CaseState, entry: Entry, _: ExhibitState | None) -> tuple[Violation, ...]:
    data = entry.data
    listed = data.get("exhibits")
    grant = Grant(
        data["jurisdiction"],
        data["sub"],
        data["role"],
        None if listed is None else frozenset(listed),
    )
    case.grants[grant.key] = grant
    return _NO_VIOLATIONS


def _on_revoked(case: CaseState, entry: Entry, _: ExhibitState | None) -> tuple[Violation, ...]:
    data = entry.data
    case.grants.pop((data["jurisdiction"], data["sub"], data["role"]), None)
    return _NO_VIOLATIONS


def _on_registered(_: CaseState, entry: Entry, state: ExhibitState | None) -> tuple[Violation, ...]:
    exhibit = _exhibit(state)
    if exhibit.owner is None:  # the first registration names the owner
        exhibit.owner = entry.data["owner"]
    return _NO_VIOLATIONS


def _on_ingested(_: CaseState, entry: Entry, state: ExhibitState | None) -> tuple[Violation, ...]:
    # spec 6.7: at most one exhibit.ingested, and none after exhibit.sealed.
    exhibit = _exhibit(state)
    found: list[Violation] = []
    if exhibit.ingested is not None:
        found.append(
            Violation(
                Rule.INGEST_ONCE,
                f"exhibit {entry.exhibit} ingested a second time (content must never change)",
                entry.seq,
            )
        )
    else:
        exhibit.ingested = entry.data
    if exhibit.sealed:
        found.append(
            Violation(
                Rule.INGEST_AFTER_SEAL,
                f"exhibit {entry.exhibit} ingested after it was sealed",
                entry.seq,
            )
        )
    return tuple(found)


def _on_sealed(_: CaseState, entry: Entry, state: ExhibitState | None) -> tuple[Violation, ...]:
    _exhibit(state).sealed = True
    return _NO_VIOLATIONS


def _on_shared(_: CaseState, entry: Entry, state: ExhibitState | None) -> tuple[Violation, ...]:
    _exhibit(state).shares[entry.data["jurisdiction"]] = entry.data["conditions"]
    return _NO_VIOLATIONS


def _on_share_revoked(
    _: CaseState, entry: Entry, state: ExhibitState | None
) -> tuple[Violation, ...]:
    _exhibit(state).shares.pop(entry.data["jurisdiction"], None)
    return _NO_VIOLATIONS


def _on_hold_set(_: CaseState, entry: Entry, state: ExhibitState | None) -> tuple[Violation, ...]:
    actor = entry.actor
    _exhibit(state).holds[entry.seq] = Hold(entry.seq, actor.jurisdiction, actor.role)
    return _NO_VIOLATIONS


def _on_hold_released(
    _: CaseState, entry: Entry, state: ExhibitState | None
) -> tuple[Violation, ...]:
    hold = entry.data.get("hold")
    holds = _exhibit(state).holds
    if isinstance(hold, int):
        holds.pop(hold, None)
    else:
        holds.clear()
    return _NO_VIOLATIONS


def _on_disposed(_: CaseState, entry: Entry, state: ExhibitState | None) -> tuple[Violation, ...]:
    _exhibit(state).disposed = True
    return _NO_VIOLATIONS


def _on_accessed(
    case: CaseState, entry: Entry, state: ExhibitState | None
) -> tuple[Violation, ...]:
    # spec 6.7: every exhibit.accessed rests on standing at that point (read_refusal's
    # rule; disposal is the AFTER_DISPOSAL rule, reported for every late event).
    actor = entry.actor
    exhibit = _exhibit(state)
    if (
        case._standing_refusal(
            exhibit, actor.jurisdiction, actor.sub, actor.role, entry.exhibit or ""
        )
        is None
    ):
        return _NO_VIOLATIONS
    return (
        Violation(
            Rule.ACCESS,
            f"exhibit {entry.exhibit} accessed by {actor.jurisdiction}/{actor.sub} "
            f"({actor.role}), who neither owned it, held an unrevoked share of it, "
            "nor was granted court access to the case",
            entry.seq,
        ),
    )


_HANDLERS: Final[Mapping[str, _Handler]] = {
    EventType.CASE_CREATED: _on_created,
    EventType.PARTY_ADDED: _on_party_added,
    EventType.PARTY_REMOVED: _on_party_removed,
    EventType.ACCESS_GRANTED: _on_granted,
    EventType.ACCESS_REVOKED: _on_revoked,
    EventType.REGISTERED: _on_registered,
    EventType.INGESTED: _on_ingested,
    EventType.SEALED: _on_sealed,
    EventType.SHARED: _on_shared,
    EventType.SHARE_REVOKED: _on_share_revoked,
    EventType.HOLD_SET: _on_hold_set,
    EventType.HOLD_RELEASED: _on_hold_released,
    EventType.DISPOSED: _on_disposed,
    EventType.ACCESSED: _on_accessed,
}


@dataclass(frozen=True, slots=True)
class Replay:
    """A whole log folded: the final state and every violation, in seq order."""

    state: CaseState
    violations: tuple[Violation, ...]


def replay(entries: Iterable[Entry], state: CaseState | None = None) -> Replay:
    """Fold `entries` (in seq order) into `state` (a new one if None)."""
    case = CaseState() if state is None else state
    found: list[Violation] = []
    for entry in entries:
        found.extend(case.apply(entry))
    return Replay(case, tuple(found))
