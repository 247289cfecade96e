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
    BE_DEFENCE,
    BE_INV,
    BE_JUDGE,
    BE_PROS,
    BE_TECH,
    DE_INV,
    DEFENCE,
    DISK,
    NL_INV,
    NL_JUDGE,
    NL_PROS,
    NL_TECH,
    PHONE,
    LogBuilder,
    digests,
    standard_log,
)

JUDGE = NL_JUDGE
FR_PROS = Actor("FR", "pros-luc", "prosecutor", "tok-fr-pros")
FR_JUDGE = Actor("FR", "judge-roux", "judge", "tok-fr-judge")


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
            f"exhibit {PHONE} accessed by DE/inv-klaus (investigator), whose state neither "
            "owned it nor held an unrevoked share of it",
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


def _grant(
    log: LogBuilder, by: Actor, to: Actor, exhibits: list[str] | None = None, *, kind: str = ""
) -> Entry:
    data: dict[str, Any] = {"jurisdiction": to.jurisdiction, **_who(to)}
    if kind == EventType.ACCESS_REVOKED:
        return log.add(by, EventType.ACCESS_REVOKED, None, data)
    return log.add(by, EventType.ACCESS_GRANTED, None, {**data, "exhibits": exhibits})


def _who(actor: Actor) -> dict[str, str]:
    return {"sub": actor.sub, "role": actor.role}


def test_court_access_rests_on_a_grant_until_it_is_revoked() -> None:
    log = _case()
    early = _access(log, DEFENCE, PHONE).seq
    _grant(log, NL_PROS, DEFENCE)
    _access(log, DEFENCE, PHONE)
    _grant(log, NL_PROS, DEFENCE, kind=EventType.ACCESS_REVOKED)
    late = _access(log, DEFENCE, PHONE).seq
    assert _rules(log) == [(Rule.COURT_ACCESS, early), (Rule.COURT_ACCESS, late)]


def test_a_judge_of_the_owner_state_without_a_grant_reads_nothing() -> None:
    # Owning the exhibit makes the state's investigators readers, not its courts.
    log = _case()
    seq = _access(log, JUDGE, PHONE).seq
    violation = replay(log.entries).violations
    assert [(v.rule, v.seq) for v in violation] == [(Rule.COURT_ACCESS, seq)]
    assert "holds no unrevoked grant" in violation[0].message


def test_a_grant_of_a_state_that_cannot_read_the_exhibit_discloses_nothing() -> None:
    # The attack of the outside test: FR grants its own judge, who reads NL's unshared phone.
    log = _case()
    log.add(
        FR_PROS,
        EventType.ACCESS_GRANTED,
        None,
        {"jurisdiction": "FR", **_who(FR_JUDGE), "exhibits": None},
    )
    seq = _access(log, FR_JUDGE, PHONE).seq
    violations = replay(log.entries).violations
    assert [(v.rule, v.seq) for v in violations] == [(Rule.COURT_ACCESS, seq)]
    assert "neither owned the exhibit nor held an unrevoked share" in violations[0].message


def test_a_court_reads_while_its_state_holds_a_share_and_not_after() -> None:
    log = _case()
    _grant(log, BE_PROS, BE_JUDGE)
    _access(log, BE_JUDGE, DISK)  # BE owns the disk
    early = _access(log, BE_JUDGE, PHONE).seq  # not shared with BE yet
    log.add(NL_PROS, EventType.SHARED, PHONE, {"jurisdiction": "BE", "conditions": ""})
    _access(log, BE_JUDGE, PHONE)
    log.add(NL_PROS, EventType.SHARE_REVOKED, PHONE, {"jurisdiction": "BE", "conditions": ""})
    late = _access(log, BE_JUDGE, PHONE).seq
    assert _rules(log) == [(Rule.COURT_ACCESS, early), (Rule.COURT_ACCESS, late)]


def test_defence_reads_only_the_exhibits_its_grant_lists() -> None:
    log = _case()
    log.add(NL_PROS, EventType.SHARED, PHONE, {"jurisdiction": "BE", "conditions": ""})
    _grant(log, BE_PROS, BE_DEFENCE, [DISK])
    _access(log, BE_DEFENCE, DISK)
    outside = _access(log, BE_DEFENCE, PHONE).seq  # BE may read it, the grant does not list it
    violations = replay(log.entries).violations
    assert [(v.rule, v.seq) for v in violations] == [(Rule.COURT_ACCESS, outside)]
    assert "does not disclose this exhibit" in violations[0].message


def test_a_grant_is_for_exactly_one_person_and_role() -> None:
    log = _case()
    _grant(log, NL_PROS, DEFENCE)
    other = Actor("NL", DEFENCE.sub, "judge", None)
    seq = _access(log, other, PHONE).seq
    assert _rules(log) == [(Rule.COURT_ACCESS, seq)]


def test_a_grant_does_not_serve_a_party_role() -> None:
    log = _case()
    log.add(
        NL_PROS,
        EventType.ACCESS_GRANTED,
        None,
        {"jurisdiction": "NL", "sub": DE_INV.sub, "role": "judge", "exhibits": None},
    )
    seq = _access(log, DE_INV, PHONE).seq
    assert _rules(log) == [(Rule.ACCESS, seq)]


def test_a_state_grants_access_only_to_its_own_courts() -> None:
    log = _case()
    grant = _grant(log, NL_PROS, BE_JUDGE).seq  # NL grants a Belgian judge
    access = _access(log, BE_JUDGE, DISK).seq
    result = replay(log.entries)
    assert [(v.rule, v.seq) for v in result.violations] == [
        (Rule.GRANT_OWN_STATE, grant),
        # The grant was never NL's to give: it confers nothing.
        (Rule.COURT_ACCESS, access),
    ]
    assert result.state.grants == {}
    assert result.state.grant_refusal("NL", "BE") is Refusal.OTHER_STATE
    assert result.state.grant_refusal("BE", "BE") is None


def test_a_new_grant_replaces_the_scope_of_the_old() -> None:
    log = _case()
    log.add(NL_PROS, EventType.SHARED, PHONE, {"jurisdiction": "BE", "conditions": ""})
    _grant(log, BE_PROS, BE_JUDGE, None)
    _grant(log, BE_PROS, BE_JUDGE, [DISK])
    seq = _access(log, BE_JUDGE, PHONE).seq
    state = replay(log.entries).state
    assert state.grants[BE_JUDGE.jurisdiction, BE_JUDGE.sub, "judge"].exhibits == frozenset({DISK})
    assert _rules(log) == [(Rule.COURT_ACCESS, seq)]


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


# --- the one answer to "may this actor read this exhibit's content now" ------------------


def _folded() -> CaseState:
    log = _case()
    log.add(NL_PROS, EventType.SHARED, PHONE, {"jurisdiction": "BE", "conditions": ""})
    _grant(log, NL_PROS, JUDGE)
    _grant(log, BE_PROS, BE_DEFENCE, [DISK])
    log.add(BE_TECH, EventType.DISPOSED, DISK, {"reason": "r", "authority": "a"})
    return replay(log.entries).state


def _from_tables() -> CaseState:
    return CaseState.from_tables(
        parties=["NL", "BE"],
        grants=[
            Grant("NL", JUDGE.sub, "judge"),
            Grant("BE", BE_DEFENCE.sub, "defence", frozenset({DISK})),
        ],
        exhibits={
            PHONE: ExhibitState(owner="NL", shares={"BE": ""}),
            DISK: ExhibitState(owner="BE", disposed=True),
        },
    )


ANSWERS = [
    (NL_INV, PHONE, None),
    (BE_INV, PHONE, None),
    (DE_INV, PHONE, Refusal.NO_STANDING),
    (JUDGE, PHONE, None),  # NL's grant, NL owns it
    (JUDGE, DISK, Refusal.NO_STANDING),  # NL's grant, but NL cannot read the disk
    (DEFENCE, PHONE, Refusal.NO_GRANT),  # the owner state's defence: no grant, no reading
    (Actor("BE", "judge-x", "judge", None), PHONE, Refusal.NO_GRANT),
    (BE_DEFENCE, PHONE, Refusal.NOT_DISCLOSED),  # BE may read it; the grant lists the disk
    (BE_DEFENCE, DISK, Refusal.DISPOSED),
    (Actor("DE", "judge-y", "judge", None), PHONE, Refusal.NO_GRANT),
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
    _grant(log, NL_PROS, JUDGE)
    _grant(log, BE_PROS, BE_DEFENCE, [PHONE])
    for actor in (NL_INV, BE_INV, DE_INV, DEFENCE, JUDGE, BE_DEFENCE, BE_JUDGE):
        for exhibit in (PHONE, DISK):
            _access(log, actor, exhibit)
    state = CaseState()
    for entry in log.entries:
        allowed = state.exhibits.get(entry.exhibit or "") is not None and state.may_read(
            entry.actor.jurisdiction, entry.actor.sub, entry.actor.role, entry.exhibit or ""
        )
        refused = bool({v.rule for v in state.apply(entry)} & {Rule.ACCESS, Rule.COURT_ACCESS})
        if entry.type == EventType.ACCESSED:
            assert refused is not allowed, entry.seq


def test_the_standard_story_breaks_no_rule() -> None:
    result = replay(standard_log().entries)
    assert result.violations == ()
    assert result.state.parties == {"NL", "BE", "DE"}
    assert result.state.pending_proposals() == []
