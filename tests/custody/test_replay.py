"""The custody rules folded in one place (custody.replay): one test per rule and per answer."""

from __future__ import annotations

from typing import Any

import pytest

from custody.entry import SYSTEM_ACTOR, Actor, Entry
from custody.events import EventType
from custody.replay import (
    CaseState,
    ExhibitState,
    Grant,
    Refusal,
    Rule,
    Violation,
    replay,
)
from tests.custody.golden.generator import (
    BE_INV,
    BE_TECH,
    DE_INV,
    DEFENCE,
    DISK,
    NL_INV,
    NL_PROS,
    NL_TECH,
    PHONE,
    LogBuilder,
    digests,
)

JUDGE = Actor("NL", "judge-bos", "judge", "tok-judge")


def _case(log: LogBuilder | None = None) -> LogBuilder:
    log = log or LogBuilder()
    log.add(
        NL_PROS,
        EventType.CASE_CREATED,
        None,
        {"title": "t", "parties": ["NL", "BE"], "agreement": ""},
    )
    for exhibit, actor, owner in ((PHONE, NL_TECH, "NL"), (DISK, BE_TECH, "BE")):
        log.add(
            actor,
            EventType.REGISTERED,
            exhibit,
            {"label": "x", "owner": owner, "description": "", "acquisition": {}},
        )
    return log


def _access(log: LogBuilder, actor: Actor, exhibit: str) -> Entry:
    return log.add(actor, EventType.ACCESSED, exhibit, {"purpose": "p", "range": None})


def _ingest(log: LogBuilder, actor: Actor, exhibit: str, content: bytes) -> Entry:
    data: dict[str, Any] = {**digests(content), "filename": "f", "media_type": "x/y"}
    return log.add(actor, EventType.INGESTED, exhibit, data)


def _rules(log: LogBuilder) -> list[tuple[Rule, int]]:
    return [(v.rule, v.seq) for v in replay(log.entries).violations]


def test_a_clean_log_breaks_no_rule() -> None:
    log = _case()
    _ingest(log, NL_TECH, PHONE, b"phone")
    _access(log, NL_INV, PHONE)
    log.add(NL_PROS, EventType.SHARED, PHONE, {"jurisdiction": "BE", "conditions": "c"})
    _access(log, BE_INV, PHONE)
    log.add(NL_TECH, EventType.SEALED, PHONE, {"reason": "done"})
    log.add(NL_PROS, EventType.DISPOSED, PHONE, {"reason": "r", "authority": "a"})
    result = replay(log.entries)
    assert result.violations == ()
    assert result.state.parties == {"NL", "BE"}
    phone = result.state.exhibits[PHONE]
    assert (phone.owner, phone.shares, phone.sealed, phone.disposed) == (
        "NL",
        {"BE": "c"},
        True,
        True,
    )


def test_access_by_a_state_that_neither_owns_nor_holds_a_share() -> None:
    log = _case()
    seq = _access(log, DE_INV, PHONE).seq
    violations = replay(log.entries).violations
    assert violations == (
        Violation(
            Rule.ACCESS,
            f"exhibit {PHONE} accessed by DE/inv-klaus (investigator), who neither owned it, "
            "held an unrevoked share of it, nor was granted court access to the case",
            seq,
        ),
    )


def test_access_after_the_share_is_revoked() -> None:
    log = _case()
    log.add(NL_PROS, EventType.SHARED, PHONE, {"jurisdiction": "BE", "conditions": ""})
    _access(log, BE_INV, PHONE)
    log.add(NL_PROS, EventType.SHARE_REVOKED, PHONE, {"jurisdiction": "BE", "conditions": ""})
    late = _access(log, BE_INV, PHONE).seq
    assert _rules(log) == [(Rule.ACCESS, late)]


def test_court_access_rests_on_a_grant_until_it_is_revoked() -> None:
    log = _case()
    grant = {"jurisdiction": "NL", "sub": DEFENCE.sub, "role": "defence"}
    early = _access(log, DEFENCE, DISK).seq
    log.add(NL_PROS, EventType.ACCESS_GRANTED, None, grant)
    _access(log, DEFENCE, DISK)
    log.add(NL_PROS, EventType.ACCESS_REVOKED, None, grant)
    late = _access(log, DEFENCE, DISK).seq
    assert _rules(log) == [(Rule.ACCESS, early), (Rule.ACCESS, late)]


def test_a_grant_does_not_serve_a_party_role() -> None:
    log = _case()
    log.add(NL_PROS, EventType.ACCESS_GRANTED, None, {"jurisdiction": "DE", **_who(DE_INV)})
    seq = _access(log, DE_INV, PHONE).seq
    assert _rules(log) == [(Rule.ACCESS, seq)]


def _who(actor: Actor) -> dict[str, str]:
    return {"sub": actor.sub, "role": actor.role}


def test_content_is_ingested_once() -> None:
    log = _case()
    _ingest(log, NL_TECH, PHONE, b"first")
    second = _ingest(log, NL_TECH, PHONE, b"second").seq
    result = replay(log.entries)
    assert [(v.rule, v.seq) for v in result.violations] == [(Rule.INGEST_ONCE, second)]
    # The first content stays the recorded one (check 6 compares against it).
    ingested = result.state.exhibits[PHONE].ingested
    assert ingested is not None
    assert ingested["sha256"] == digests(b"first")["sha256"]


def test_no_content_after_a_seal() -> None:
    log = _case()
    log.add(BE_TECH, EventType.SEALED, DISK, {"reason": "r"})
    seq = _ingest(log, BE_TECH, DISK, b"late").seq
    assert _rules(log) == [(Rule.INGEST_AFTER_SEAL, seq)]


def test_nothing_happens_to_an_exhibit_after_its_disposal() -> None:
    log = _case()
    log.add(BE_TECH, EventType.DISPOSED, DISK, {"reason": "r", "authority": "a"})
    access = _access(log, BE_INV, DISK).seq
    seal = log.add(BE_TECH, EventType.SEALED, DISK, {"reason": "r"}).seq
    tagged = log.add(BE_TECH, "exhibit.tagged", DISK, {"tag": "x"}).seq
    result = replay(log.entries)
    assert [(v.rule, v.seq) for v in result.violations] == [
        (Rule.AFTER_DISPOSAL, access),
        (Rule.AFTER_DISPOSAL, seal),
        (Rule.AFTER_DISPOSAL, tagged),
    ]
    assert result.violations[2].message == (
        f"exhibit.tagged on exhibit {DISK} after it was disposed"
    )


def test_case_events_change_parties_and_grants() -> None:
    log = _case()
    log.add(NL_PROS, EventType.PARTY_ADDED, None, {"jurisdiction": "DE"})
    log.add(NL_PROS, EventType.PARTY_REMOVED, None, {"jurisdiction": "BE"})
    grant = {"jurisdiction": "NL", "sub": JUDGE.sub, "role": "judge"}
    log.add(NL_PROS, EventType.ACCESS_GRANTED, None, grant)
    state = replay(log.entries).state
    assert state.parties == {"NL", "DE"}
    assert set(state.grants) == {("NL", JUDGE.sub, "judge")}


def test_holds_are_kept_open_by_seq_until_released() -> None:
    log = _case()
    hold = log.add(NL_PROS, EventType.HOLD_SET, PHONE, {"reason": "trial"}).seq
    state = replay(log.entries).state
    assert state.exhibits[PHONE].on_hold
    assert state.exhibits[PHONE].holds[hold].jurisdiction == "NL"
    log.add(NL_PROS, EventType.HOLD_RELEASED, PHONE, {"reason": "verdict"})
    assert not replay(log.entries).state.exhibits[PHONE].on_hold


# --- the one answer to "may this actor read this exhibit's content now" ------------------


def _folded() -> CaseState:
    log = _case()
    log.add(NL_PROS, EventType.SHARED, PHONE, {"jurisdiction": "BE", "conditions": ""})
    log.add(NL_PROS, EventType.ACCESS_GRANTED, None, {"jurisdiction": "NL", **_who(JUDGE)})
    log.add(BE_TECH, EventType.DISPOSED, DISK, {"reason": "r", "authority": "a"})
    return replay(log.entries).state


def _from_tables() -> CaseState:
    return CaseState.from_tables(
        parties=["NL", "BE"],
        grants=[Grant("NL", JUDGE.sub, "judge")],
        exhibits={
            PHONE: ExhibitState(owner="NL", shares={"BE": ""}),
            DISK: ExhibitState(owner="BE", disposed=True),
        },
    )


ANSWERS = [
    (NL_INV, PHONE, None),
    (BE_INV, PHONE, None),
    (DE_INV, PHONE, Refusal.NO_STANDING),
    (JUDGE, PHONE, None),
    (DEFENCE, PHONE, None),  # NL owns it: the owner state's roles read it
    (Actor("BE", "judge-x", "judge", None), PHONE, None),  # BE holds a share
    (Actor("DE", "judge-y", "judge", None), PHONE, Refusal.NO_STANDING),
    (BE_INV, DISK, Refusal.DISPOSED),
    (NL_INV, DISK, Refusal.NO_STANDING),
    (NL_INV, "no-such-exhibit", Refusal.UNKNOWN_EXHIBIT),
    (SYSTEM_ACTOR, PHONE, Refusal.NO_STANDING),
]


@pytest.mark.parametrize("build", [_folded, _from_tables], ids=["folded", "from-tables"])
@pytest.mark.parametrize(("actor", "exhibit", "refusal"), ANSWERS)
def test_read_refusal(build: Any, actor: Actor, exhibit: str, refusal: Refusal | None) -> None:
    state: CaseState = build()
    assert state.read_refusal(actor.jurisdiction, actor.sub, actor.role, exhibit) == refusal
    assert state.may_read(actor.jurisdiction, actor.sub, actor.role, exhibit) is (refusal is None)


def test_the_fold_judges_each_access_with_the_same_answer() -> None:
    log = _case()
    log.add(NL_PROS, EventType.SHARED, PHONE, {"jurisdiction": "BE", "conditions": ""})
    for actor in (NL_INV, BE_INV, DE_INV, DEFENCE, JUDGE):
        for exhibit in (PHONE, DISK):
            _access(log, actor, exhibit)
    state = CaseState()
    for entry in log.entries:
        allowed = state.exhibits.get(entry.exhibit or "") is not None and state.may_read(
            entry.actor.jurisdiction, entry.actor.sub, entry.actor.role, entry.exhibit or ""
        )
        refused = {v.rule for v in state.apply(entry)} == {Rule.ACCESS}
        if entry.type == EventType.ACCESSED:
            assert refused is not allowed, entry.seq
