"""The custody rules, stated once: a case's state folded entry by entry (spec 6 check 7).

Everyone who asks "was this allowed?" or "is this allowed now?" asks this module: the
offline verifier (check 7), the server's `jitc audit`, and the server's permission
decisions. Two ways to get a `CaseState`:

- fold a log: `state = CaseState()`, then `violations = state.apply(entry)` for each entry
  in `seq` order (or `replay(entries)` for all of them). `apply` returns the rules the entry
  breaks, as `Violation` values (rule id, message, seq); it never raises for a broken rule.
- build it from stored rows: `CaseState.from_tables(parties=..., grants=..., exhibits=...,
  proposals=..., policy=...)`, with only the part a decision needs (the actor's grants, the
  exhibits concerned), each exhibit an `ExhibitState(owner=..., shares=..., holds=...)`.

The questions, each answered by one method that the fold asks too (so the server and the
verifier cannot drift apart); each returns None when allowed, else the `Refusal`:

- `read_refusal(jurisdiction, sub, role, exhibit)`: may this actor read the content now;
- `grant_refusal(actor_jurisdiction, jurisdiction)`: may this state grant court access;
- `removal_refusal(actor_jurisdiction, jurisdiction)`: may this state remove that party;
- `addition_refusal(proposal)`: has every state that must consent consented;
- `release_refusal(actor_jurisdiction, actor_role, exhibit, hold)`: may it end that hold;
- `disposal_refusal(exhibit)`: may the exhibit be disposed of now.

And what the server shows: `pending_proposals()` (with the consents still missing),
`open_holds(exhibit)`, `policy` (the newest `case.policy_set` text).

Pure and deterministic: no clock, no I/O. An entry is applied as the log records it; an
entry that breaks a rule still changes the state the way it says (the verifier reports the
break, it does not pretend the event did not happen), with one exception: a grant by
another state than the one it names confers nothing (it was never that state's to give).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from custody.entry import Entry
from custody.events import COURT_ROLES, EventType, Role
from custody.rules import (
    ExhibitState,
    Grant,
    GrantKey,
    Hold,
    Proposal,
    Refusal,
    Rule,
    Violation,
)

__all__ = [
    "CaseState",
    "ExhibitState",
    "Grant",
    "GrantKey",
    "Hold",
    "Proposal",
    "Refusal",
    "Replay",
    "Rule",
    "Violation",
    "replay",
]


@dataclass(slots=True)
class CaseState:
    """A case as its log has built it up to some point."""

    parties: set[str] = field(default_factory=set)
    grants: dict[GrantKey, Grant] = field(default_factory=dict)
    exhibits: dict[str, ExhibitState] = field(default_factory=dict)
    proposals: dict[int, Proposal] = field(default_factory=dict)  # pending, by seq
    policy: str | None = None  # the newest case.policy_set text
    policy_seq: int | None = None  # and its seq

    @classmethod
    def from_tables(
        cls,
        *,
        parties: Iterable[str] = (),
        grants: Iterable[Grant] = (),
        exhibits: Mapping[str, ExhibitState] | None = None,
        proposals: Iterable[Proposal] = (),
        policy: str | None = None,
    ) -> CaseState:
        """The state as stored rows describe it (the server's tables), for decisions such
        as `read_refusal`. Give only what the decision needs: the actor's grants and the
        exhibits concerned."""
        return cls(
            parties=set(parties),
            grants={grant.key: grant for grant in grants},
            exhibits=dict(exhibits or {}),
            proposals={proposal.seq: proposal for proposal in proposals},
            policy=policy,
        )

    # --- spec 6.7: may this actor read this exhibit's content now -----------------------

    def read_refusal(self, jurisdiction: str, sub: str, role: str, exhibit: str) -> Refusal | None:
        """None if the actor may read the exhibit's content now, else why not (spec 6.7)."""
        state = self.exhibits.get(exhibit)
        if state is None:
            return Refusal.UNKNOWN_EXHIBIT
        refusal = self._standing_refusal(state, exhibit, jurisdiction, sub, role)
        if refusal is None and state.disposed:
            return Refusal.DISPOSED
        return refusal

    def may_read(self, jurisdiction: str, sub: str, role: str, exhibit: str) -> bool:
        return self.read_refusal(jurisdiction, sub, role, exhibit) is None

    def _standing_refusal(
        self, state: ExhibitState, exhibit: str, jurisdiction: str, sub: str, role: str
    ) -> Refusal | None:
        if role not in COURT_ROLES:
            # A party's own people: the owner state, or a state holding an unrevoked share.
            return None if state.readable_by_state(jurisdiction) else Refusal.NO_STANDING
        # A judge or defence lawyer: only through a grant of exactly that person, by a
        # state that may read the exhibit now, and that discloses this exhibit.
        grant = self.grants.get((jurisdiction, sub, role))
        if grant is None:
            return Refusal.NO_GRANT
        if not grant.discloses(exhibit):
            return Refusal.NOT_DISCLOSED
        if not state.readable_by_state(grant.jurisdiction):
            return Refusal.NO_STANDING
        return None

    # --- spec 2.1 / 6.7: the other rules, one question each ----------------------------

    def grant_refusal(self, actor_jurisdiction: str, jurisdiction: str) -> Refusal | None:
        """A state grants access to its own courts and defence only."""
        return None if actor_jurisdiction == jurisdiction else Refusal.OTHER_STATE

    def removal_refusal(self, actor_jurisdiction: str, jurisdiction: str) -> Refusal | None:
        """Only a state itself withdraws it from the case; a case keeps at least one party."""
        if actor_jurisdiction != jurisdiction:
            return Refusal.OTHER_STATE
        if self.parties <= {jurisdiction}:
            return Refusal.LAST_PARTY
        return None

    def addition_refusal(self, proposal: int, jurisdiction: str | None = None) -> Refusal | None:
        """A party is added only on an open proposal (for that state, when `jurisdiction` is
        given) that every state that was a party when it was proposed has consented to."""
        pending = self.proposals.get(proposal)
        if pending is None or (jurisdiction is not None and pending.jurisdiction != jurisdiction):
            return Refusal.NO_SUCH_PROPOSAL
        return Refusal.CONSENT_MISSING if pending.missing else None

    def release_refusal(
        self, actor_jurisdiction: str, actor_role: str, exhibit: str, hold: int
    ) -> Refusal | None:
        """A hold is ended only while open, by the state that set it, and a judge's hold
        only by a judge (of that state)."""
        state = self.exhibits.get(exhibit)
        open_hold = None if state is None else state.holds.get(hold)
        if open_hold is None:
            return Refusal.NO_SUCH_HOLD
        if actor_jurisdiction != open_hold.jurisdiction:
            return Refusal.OTHER_STATE
        if open_hold.by_judge and actor_role != Role.JUDGE:
            return Refusal.JUDGE_HOLD
        return None

    def disposal_refusal(self, exhibit: str) -> Refusal | None:
        """No disposal while any hold on the exhibit is open."""
        state = self.exhibits.get(exhibit)
        if state is None:
            return Refusal.UNKNOWN_EXHIBIT
        return Refusal.ON_HOLD if state.holds else None

    # --- what the server shows ---------------------------------------------------------

    def pending_proposals(self) -> list[Proposal]:
        """Proposals not yet completed, oldest first; `Proposal.missing` names who must
        still consent."""
        return [self.proposals[seq] for seq in sorted(self.proposals)]

    def open_holds(self, exhibit: str) -> list[Hold]:
        """The exhibit's open holds, oldest first (empty for an unknown exhibit)."""
        state = self.exhibits.get(exhibit)
        return [] if state is None else [state.holds[seq] for seq in sorted(state.holds)]

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


_NO_VIOLATIONS: Final[tuple[Violation, ...]] = ()
_Handler = Callable[[CaseState, Entry, ExhibitState | None], tuple[Violation, ...]]


def _exhibit(state: ExhibitState | None) -> ExhibitState:
    # Handlers of exhibit events are called with the exhibit's state (spec 2.1: those
    # types must name an exhibit, and Entry.parse refuses one that does not).
    assert state is not None
    return state


def _broken(rule: Rule, entry: Entry, message: str) -> tuple[Violation, ...]:
    return (Violation(rule, message, entry.seq),)


def _who(entry: Entry) -> str:
    actor = entry.actor
    return f"{actor.jurisdiction}/{actor.sub} ({actor.role})"


# --- case events ----------------------------------------------------------------------


def _on_created(case: CaseState, entry: Entry, _: ExhibitState | None) -> tuple[Violation, ...]:
    case.parties.update(entry.data["parties"])
    return _NO_VIOLATIONS


def _on_policy_set(case: CaseState, entry: Entry, _: ExhibitState | None) -> tuple[Violation, ...]:
    case.policy = entry.data["policy"]
    case.policy_seq = entry.seq
    return _NO_VIOLATIONS


def _consents(entry: Entry) -> bool:
    # spec 2.1: a state consents through its prosecutor (by proposing or approving).
    return entry.actor.role == Role.PROSECUTOR


def _on_party_proposed(
    case: CaseState, entry: Entry, _: ExhibitState | None
) -> tuple[Violation, ...]:
    proposer = entry.actor.jurisdiction
    proposal = Proposal(
        seq=entry.seq,
        jurisdiction=entry.data["jurisdiction"],
        proposer=proposer,
        required=frozenset(case.parties),
    )
    if _consents(entry):
        proposal.consented.add(proposer)
    case.proposals[entry.seq] = proposal
    return _NO_VIOLATIONS


def _on_party_approved(
    case: CaseState, entry: Entry, _: ExhibitState | None
) -> tuple[Violation, ...]:
    # An approval of no open proposal changes nothing; spec 6.7 judges the addition.
    proposal = case.proposals.get(entry.data["proposal"])
    if proposal is not None and _consents(entry):
        proposal.consented.add(entry.actor.jurisdiction)
    return _NO_VIOLATIONS


def _on_party_added(case: CaseState, entry: Entry, _: ExhibitState | None) -> tuple[Violation, ...]:
    jurisdiction, seq = entry.data["jurisdiction"], entry.data["proposal"]
    refusal = case.addition_refusal(seq, jurisdiction)
    found = _NO_VIOLATIONS
    if refusal is Refusal.NO_SUCH_PROPOSAL:
        found = _broken(
            Rule.PARTY_CONSENT,
            entry,
            f"{jurisdiction} added as a party on proposal {seq}, which is not an open "
            f"proposal to add {jurisdiction}",
        )
    elif refusal is Refusal.CONSENT_MISSING:
        missing = ", ".join(sorted(case.proposals[seq].missing))
        found = _broken(
            Rule.PARTY_CONSENT,
            entry,
            f"{jurisdiction} added as a party without the consent of {missing} (every state "
            f"that was a party at proposal {seq} must consent)",
        )
    if refusal is not Refusal.NO_SUCH_PROPOSAL:  # an addition on another state's proposal
        del case.proposals[seq]  # does not complete it
    case.parties.add(jurisdiction)
    return found


def _on_party_removed(
    case: CaseState, entry: Entry, _: ExhibitState | None
) -> tuple[Violation, ...]:
    jurisdiction = entry.data["jurisdiction"]
    refusal = case.removal_refusal(entry.actor.jurisdiction, jurisdiction)
    found = _NO_VIOLATIONS
    if refusal is Refusal.OTHER_STATE:
        found = _broken(
            Rule.PARTY_WITHDRAWAL,
            entry,
            f"{jurisdiction} removed from the case by {_who(entry)}: only a state itself withdraws",
        )
    elif refusal is Refusal.LAST_PARTY:
        found = _broken(
            Rule.PARTY_WITHDRAWAL,
            entry,
            f"{jurisdiction} withdrew as the last party (a case keeps at least one party)",
        )
    case.parties.discard(jurisdiction)
    return found


def _on_granted(case: CaseState, entry: Entry, _: ExhibitState | None) -> tuple[Violation, ...]:
    data = entry.data
    jurisdiction = data["jurisdiction"]
    if case.grant_refusal(entry.actor.jurisdiction, jurisdiction) is not None:
        # Never that state's to give: reported, and it confers nothing.
        return _broken(
            Rule.GRANT_OWN_STATE,
            entry,
            f"{_who(entry)} granted {data['role']} access to {jurisdiction}/{data['sub']}: a "
            "state grants access only to its own courts and defence",
        )
    listed = data["exhibits"]
    grant = Grant(
        jurisdiction, data["sub"], data["role"], None if listed is None else frozenset(listed)
    )
    case.grants[grant.key] = grant
    return _NO_VIOLATIONS


def _on_revoked(case: CaseState, entry: Entry, _: ExhibitState | None) -> tuple[Violation, ...]:
    data = entry.data
    case.grants.pop((data["jurisdiction"], data["sub"], data["role"]), None)
    return _NO_VIOLATIONS


# --- exhibit events -------------------------------------------------------------------


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
    case: CaseState, entry: Entry, state: ExhibitState | None
) -> tuple[Violation, ...]:
    exhibit = _exhibit(state)
    seq = entry.data["hold"]
    actor = entry.actor
    refusal = case.release_refusal(actor.jurisdiction, actor.role, entry.exhibit or "", seq)
    found = _NO_VIOLATIONS
    if refusal is Refusal.NO_SUCH_HOLD:
        found = _broken(
            Rule.HOLD_RELEASE,
            entry,
            f"hold {seq} released on exhibit {entry.exhibit}, which has no such open hold",
        )
    elif refusal is Refusal.OTHER_STATE:
        found = _broken(
            Rule.HOLD_RELEASE,
            entry,
            f"hold {seq} on exhibit {entry.exhibit}, set by {exhibit.holds[seq].jurisdiction}, "
            f"released by {_who(entry)}: only the state that set a hold releases it",
        )
    elif refusal is Refusal.JUDGE_HOLD:
        found = _broken(
            Rule.HOLD_RELEASE,
            entry,
            f"hold {seq} on exhibit {entry.exhibit}, set by a judge, released by "
            f"{_who(entry)}: a judge's hold is released only by a judge",
        )
    exhibit.holds.pop(seq, None)
    return found


def _on_disposed(
    case: CaseState, entry: Entry, state: ExhibitState | None
) -> tuple[Violation, ...]:
    exhibit = _exhibit(state)
    found = _NO_VIOLATIONS
    if exhibit.holds:
        holds = ", ".join(str(seq) for seq in sorted(exhibit.holds))
        found = _broken(
            Rule.DISPOSAL_UNDER_HOLD,
            entry,
            f"exhibit {entry.exhibit} disposed of while hold(s) {holds} are open",
        )
    exhibit.disposed = True
    return found


_REASONS: Final[Mapping[Refusal, str]] = {
    Refusal.NO_GRANT: "holds no unrevoked grant of court or defence access",
    Refusal.NOT_DISCLOSED: "holds a grant that does not disclose this exhibit",
    Refusal.NO_STANDING: "was granted access by a state that neither owned the exhibit nor "
    "held an unrevoked share of it",
}


def _on_accessed(
    case: CaseState, entry: Entry, state: ExhibitState | None
) -> tuple[Violation, ...]:
    # spec 6.7: every exhibit.accessed rests on standing at that point (read_refusal's
    # rule; disposal is the AFTER_DISPOSAL rule, reported for every late event).
    actor = entry.actor
    exhibit = entry.exhibit or ""
    refusal = case._standing_refusal(
        _exhibit(state), exhibit, actor.jurisdiction, actor.sub, actor.role
    )
    if refusal is None:
        return _NO_VIOLATIONS
    if actor.role not in COURT_ROLES:
        return _broken(
            Rule.ACCESS,
            entry,
            f"exhibit {exhibit} accessed by {_who(entry)}, whose state neither owned it nor "
            "held an unrevoked share of it",
        )
    return _broken(
        Rule.COURT_ACCESS,
        entry,
        f"exhibit {exhibit} accessed by {_who(entry)}, who {_REASONS[refusal]}",
    )


_HANDLERS: Final[Mapping[str, _Handler]] = {
    EventType.CASE_CREATED: _on_created,
    EventType.POLICY_SET: _on_policy_set,
    EventType.PARTY_PROPOSED: _on_party_proposed,
    EventType.PARTY_APPROVED: _on_party_approved,
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
