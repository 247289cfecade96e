"""The case policy and its history in the log (spec 2.1 case.policy_set, spec 5 policy.txt;
docs/adr/0038-policy-history.md).

A case's policy names its log key, the witnesses of its party states and the quorum. It
changes when a party joins or leaves, when a state registers, replaces or removes its
witness and when a prosecutor sets the quorum. Each change is logged as `case.policy_set`
with the full text, in the transaction of the change, so that a bundle carries the policy
that held at its tree size and a later witness never rewrites an older bundle's rules.

`append_policy_if_changed(log, actor)` is the one way to log it: every path that changes
parties, witnesses or quorum calls it inside its unit of work, after the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlalchemy import Connection

from custody.entry import Actor, Entry
from custody.errors import CustodyError
from custody.policy import Policy, build_policy
from server.repositories import witnesses as witness_repo
from server.services.custody_log import CaseLog, CheckpointSigner

POLICY_SET = witness_repo.POLICY_SET


def case_policy(conn: Connection, signer: CheckpointSigner, case_id: str) -> Policy:
    """The policy the server applies to the case now, from the tables: the case's log vkey
    (key name = origin), one witness line per party state's witness, and the quorum (all,
    k of n, or `quorum none`)."""
    witnesses = witness_repo.witnesses_of_case(conn, case_id)
    k = witness_repo.quorum(conn, case_id)
    quorum: int | Literal["all"] | None
    if not witnesses:
        quorum = None
    elif k is None or k >= len(witnesses):
        quorum = "all"  # NOTE: a k above n (after a party left) is read as all of them
    else:
        quorum = k
    log_vkey = signer.case_signer(case_id).vkey()
    return build_policy(log_vkey, [(w.name, w.vkey) for w in witnesses], quorum=quorum)


def _policy_of(raw: bytes) -> str | None:
    """The policy text of a stored case.policy_set entry (None if it cannot be read)."""
    try:
        text = Entry.parse(raw).data.get("policy")
    except CustodyError:
        return None
    return text if isinstance(text, str) else None


def logged_policy(conn: Connection, case_id: str, *, before: int | None = None) -> str | None:
    """The text of the newest committed case.policy_set below seq `before` (None: any)."""
    rows = witness_repo.logged_policies(conn, case_id, before=before, newest_only=True)
    return _policy_of(rows[0][1]) if rows else None


def append_policy_if_changed(log: CaseLog, actor: Actor) -> Entry | None:
    """Log `case.policy_set` if the case's policy now differs from the last one logged
    (or none was). Call it inside the unit of work that changed the parties, a witness
    or the quorum, after the change. Returns the entry, or None when nothing changed."""
    # A witness registration commits either before this reads the witnesses, or after this
    # transaction (it waits for this lock), when it logs the policy of this case itself.
    witness_repo.share_lock_parties(log.conn, log.case_id)
    if log.policy is None:
        log.policy = logged_policy(log.conn, log.case_id)
    text = case_policy(log.conn, log.signer, log.case_id).to_text()
    if text == log.policy:
        return None
    entry = log.append(actor, POLICY_SET, data={"policy": text})
    log.policy = text
    return entry


# --- the history, read from entries --------------------------------------------------------


def policy_history(entries: Sequence[Entry]) -> list[tuple[int, str]]:
    """(seq, policy text) of every case.policy_set among `entries`, by seq."""
    found: list[tuple[int, str]] = []
    for entry in entries:
        if entry.type == POLICY_SET:
            text = entry.data.get("policy")
            if isinstance(text, str):
                found.append((entry.seq, text))
    return found


def stored_history(
    conn: Connection, case_id: str, *, before: int | None = None
) -> list[tuple[int, str]]:
    """(seq, policy text) of every committed case.policy_set (below seq `before`)."""
    history: list[tuple[int, str]] = []
    for seq, raw in witness_repo.logged_policies(conn, case_id, before=before):
        text = _policy_of(raw)
        if text is not None:
            history.append((seq, text))
    return history


def policy_at(history: Sequence[tuple[int, str]], size: int) -> str | None:
    """spec 5: the policy of a checkpoint of `size` entries is the newest case.policy_set
    among them (seq below size); None if there is none."""
    found: str | None = None
    for seq, text in history:
        if seq >= size:
            break
        found = text
    return found
