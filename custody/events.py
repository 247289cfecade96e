"""The custody log's vocabulary (spec 2, 2.1): event types and actor roles, named once.

Everything in custody that tests an entry's `type` or an actor's `role` uses these names,
never string literals. They are StrEnums, so a member equals (and hashes like) its spec
text: `EventType.ACCESSED == "exhibit.accessed"`, and a plain string from a parsed entry
finds its member in a dict keyed by members.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class EventType(StrEnum):
    """spec 2.1: the event types a verifier knows. New types may appear in a log; a verifier
    reports them and does not fail on them."""

    CASE_CREATED = "case.created"
    PARTY_PROPOSED = "case.party_proposed"
    PARTY_APPROVED = "case.party_approved"
    PARTY_ADDED = "case.party_added"
    PARTY_REMOVED = "case.party_removed"
    ACCESS_GRANTED = "case.access_granted"
    ACCESS_REVOKED = "case.access_revoked"
    POLICY_SET = "case.policy_set"
    REGISTERED = "exhibit.registered"
    INGESTED = "exhibit.ingested"
    INGEST_REJECTED = "exhibit.ingest_rejected"
    ACCESSED = "exhibit.accessed"
    VERIFIED = "exhibit.verified"
    SHARED = "exhibit.shared"
    SHARE_REVOKED = "exhibit.share_revoked"
    SEALED = "exhibit.sealed"
    HOLD_SET = "exhibit.hold_set"
    HOLD_RELEASED = "exhibit.hold_released"
    DISPOSED = "exhibit.disposed"
    NOTE_ADDED = "note.added"
    EXPORT_CREATED = "export.created"


class Role(StrEnum):
    """spec 2 `actor.role`: the roles an access token can carry, and the server's own."""

    INVESTIGATOR = "investigator"
    TECHNICIAN = "technician"
    PROSECUTOR = "prosecutor"
    JUDGE = "judge"
    DEFENCE = "defence"
    SYSTEM = "system"


# The roles a person's access token can carry (the server acts as Role.SYSTEM).
ROLES: Final = frozenset(
    {Role.INVESTIGATOR, Role.TECHNICIAN, Role.PROSECUTOR, Role.JUDGE, Role.DEFENCE}
)
# spec 2.1 `case.access_granted`: the roles a state grants access to its courts and defence.
COURT_ROLES: Final = frozenset({Role.JUDGE, Role.DEFENCE})
# A plain str: it is written into entries (`SYSTEM_ACTOR`).
SYSTEM_ROLE: Final = Role.SYSTEM.value

__all__ = ["COURT_ROLES", "ROLES", "SYSTEM_ROLE", "EventType", "Role"]
