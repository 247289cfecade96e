"""The vocabulary of the custody rules (spec 6 check 7): the rules and the answers to "is
this allowed?" by stable id, and the records a case's state is made of (grants, holds,
proposals, exhibits).

`custody.replay` decides; this module only names and holds, so that a report, the server's
error table and a test can key on a stable id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from custody.events import Role

__all__ = [
    "ExhibitState",
    "Grant",
    "GrantKey",
    "Hold",
    "Proposal",
    "Refusal",
    "Rule",
    "Violation",
]


class Rule(StrEnum):
    """The custody rules of spec 6 check 7, each with a stable id."""

    # A party's people read an exhibit only while their state owns it or holds a share.
    ACCESS = "access"
    # A judge or defence lawyer reads only through their own state's unrevoked grant, of an
    # exhibit that state may read and that the grant discloses.
    COURT_ACCESS = "court-access"
    GRANT_OWN_STATE = "grant-own-state"  # a state grants access to its own courts only
    PARTY_CONSENT = "party-consent"  # a party is added once every party has consented
    PARTY_WITHDRAWAL = "party-withdrawal"  # only a state itself leaves; one party remains
    HOLD_RELEASE = "hold-release"  # an open hold, by its state; a judge's by a judge
    DISPOSAL_UNDER_HOLD = "disposal-under-hold"  # no disposal while a hold is open
    INGEST_ONCE = "ingest-once"  # content never changes once stored
    INGEST_AFTER_SEAL = "ingest-after-seal"  # no content after a seal
    AFTER_DISPOSAL = "after-disposal"  # no event on an exhibit after its disposal


class Refusal(StrEnum):
    """Why an action is not allowed now (None from a `CaseState` question: allowed)."""

    UNKNOWN_EXHIBIT = "unknown-exhibit"  # never registered (nor named) in this case
    # A party's people: their state neither owns the exhibit nor holds an unrevoked share.
    # A judge or defence lawyer: the granting state does not (or no longer) may read it.
    NO_STANDING = "no-standing"
    NO_GRANT = "no-grant"  # a judge or defence lawyer without an unrevoked grant
    NOT_DISCLOSED = "not-disclosed"  # the grant does not list this exhibit
    DISPOSED = "disposed"  # the content is gone
    OTHER_STATE = "other-state"  # a state acting for another (grant, removal, hold release)
    LAST_PARTY = "last-party"  # a case keeps at least one party
    NO_SUCH_PROPOSAL = "no-such-proposal"  # not an open proposal (for that state)
    CONSENT_MISSING = "consent-missing"  # a party state has not consented yet
    NO_SUCH_HOLD = "no-such-hold"  # not an open hold of this exhibit
    JUDGE_HOLD = "judge-hold"  # a judge's hold, released only by a judge
    ON_HOLD = "on-hold"  # an open hold forbids disposal


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
    """Court or defence access (spec 2.1 `case.access_granted`). `exhibits` None: every
    exhibit the granting state may read; else only those listed."""

    jurisdiction: str
    sub: str
    role: str
    exhibits: frozenset[str] | None = None

    @property
    def key(self) -> GrantKey:
        return (self.jurisdiction, self.sub, self.role)

    def discloses(self, exhibit: str) -> bool:
        return self.exhibits is None or exhibit in self.exhibits


@dataclass(frozen=True, slots=True)
class Hold:
    """An open hold on an exhibit (spec 2.1 `exhibit.hold_set`): the hold is its seq."""

    seq: int
    jurisdiction: str
    role: str

    @property
    def by_judge(self) -> bool:
        """spec 6.7: a hold set by a judge is released only by a judge."""
        return self.role == Role.JUDGE


@dataclass(slots=True)
class Proposal:
    """A `case.party_proposed` not yet completed by its `case.party_added`.

    `required`: the states that were parties when it was proposed, each of which must
    consent (spec 2.1); `consented`: the states whose prosecutor proposed or approved it."""

    seq: int
    jurisdiction: str
    proposer: str
    required: frozenset[str]
    consented: set[str] = field(default_factory=set)

    @property
    def missing(self) -> frozenset[str]:
        """The states whose consent is still needed."""
        return self.required - self.consented


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
