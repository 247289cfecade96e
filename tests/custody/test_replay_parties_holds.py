"""The custody rules of party changes, holds and the case policy (spec 2.1, 6.7), folded
by custody.replay, and the questions the server asks of them."""

from __future__ import annotations

from custody.entry import SYSTEM_ACTOR, Actor, Entry
from custody.events import EventType
from custody.replay import CaseState, ExhibitState, Hold, Proposal, Refusal, Rule, replay
from tests.custody.golden.generator import (
    BE_JUDGE,
    BE_PROS,
    BE_TECH,
    DISK,
    NL_INV,
    NL_PROS,
    NL_TECH,
    PHONE,
    LogBuilder,
)

DE_PROS = Actor("DE", "pros-anke", "prosecutor", "tok-de-pros")
NL_JUDGE = Actor("NL", "judge-bos", "judge", "tok-nl-judge")


def _case(parties: list[str] | None = None) -> LogBuilder:
    log = LogBuilder()
    log.add(
        NL_PROS,
        EventType.CASE_CREATED,
        None,
        {"title": "t", "parties": parties or ["NL", "BE"], "agreement": ""},
    )
    for exhibit, actor, owner in ((PHONE, NL_TECH, "NL"), (DISK, BE_TECH, "BE")):
        log.add(
            actor,
            EventType.REGISTERED,
            exhibit,
            {"label": "x", "owner": owner, "description": "", "acquisition": {}},
        )
    return log


def _rules(log: LogBuilder) -> list[tuple[Rule, int]]:
    return [(v.rule, v.seq) for v in replay(log.entries).violations]


def _propose(log: LogBuilder, by: Actor, jurisdiction: str) -> int:
    return log.add(by, EventType.PARTY_PROPOSED, None, {"jurisdiction": jurisdiction}).seq


def _approve(log: LogBuilder, by: Actor, proposal: int) -> Entry:
    return log.add(by, EventType.PARTY_APPROVED, None, {"proposal": proposal})


def _add(log: LogBuilder, by: Actor, jurisdiction: str, proposal: int) -> Entry:
    data = {"jurisdiction": jurisdiction, "proposal": proposal}
    return log.add(by, EventType.PARTY_ADDED, None, data)


# --- parties by consent --------------------------------------------------------------


def test_a_party_joins_once_every_party_has_consented() -> None:
    log = _case()
    proposal = _propose(log, NL_PROS, "DE")
    state = replay(log.entries).state
    [pending] = state.pending_proposals()
    assert (pending.seq, pending.jurisdiction, pending.proposer) == (proposal, "DE", "NL")
    assert pending.missing == {"BE"}  # NL consented by proposing
    assert state.addition_refusal(proposal, "DE") is Refusal.CONSENT_MISSING
    _approve(log, BE_PROS, proposal)
    assert replay(log.entries).state.addition_refusal(proposal, "DE") is None
    _add(log, BE_PROS, "DE", proposal)
    result = replay(log.entries)
    assert result.violations == ()
    assert result.state.parties == {"NL", "BE", "DE"}
    assert result.state.pending_proposals() == []


def test_a_party_added_without_consent() -> None:
    log = _case()
    proposal = _propose(log, NL_PROS, "DE")
    added = _add(log, NL_PROS, "DE", proposal).seq
    violations = replay(log.entries).violations
    assert [(v.rule, v.seq) for v in violations] == [(Rule.PARTY_CONSENT, added)]
    assert "without the consent of BE" in violations[0].message
    # The entry happened: DE is a party from then on (the verifier reports, not pretends).
    assert "DE" in replay(log.entries).state.parties


def test_a_single_party_case_adds_on_its_own_proposal() -> None:
    log = _case(["NL"])
    proposal = _propose(log, NL_PROS, "BE")
    _add(log, NL_PROS, "BE", proposal)
    assert _rules(log) == []


def test_consent_counts_only_from_a_prosecutor_of_a_state_that_was_a_party() -> None:
    log = _case()
    proposal = _propose(log, NL_PROS, "DE")
    _approve(log, Actor("BE", "inv-marie", "investigator", None), proposal)  # not a prosecutor
    _approve(log, DE_PROS, proposal)  # DE was no party when proposed: not needed, not enough
    added = _add(log, NL_PROS, "DE", proposal).seq
    assert _rules(log) == [(Rule.PARTY_CONSENT, added)]


def test_a_state_that_joins_after_a_proposal_need_not_consent_to_it() -> None:
    log = _case()
    first = _propose(log, NL_PROS, "DE")
    second = _propose(log, NL_PROS, "FR")
    _approve(log, BE_PROS, first)
    _add(log, BE_PROS, "DE", first)
    _approve(log, BE_PROS, second)
    _add(log, BE_PROS, "FR", second)  # DE joined after FR was proposed
    assert _rules(log) == []


def test_addition_names_an_open_proposal_for_that_state() -> None:
    log = _case()
    proposal = _propose(log, NL_PROS, "DE")
    _approve(log, BE_PROS, proposal)
    wrong_state = _add(log, BE_PROS, "FR", proposal).seq
    no_proposal = _add(log, BE_PROS, "PL", 999).seq
    _add(log, BE_PROS, "DE", proposal)
    twice = _add(log, BE_PROS, "DE", proposal).seq
    assert _rules(log) == [
        (Rule.PARTY_CONSENT, wrong_state),
        (Rule.PARTY_CONSENT, no_proposal),
        (Rule.PARTY_CONSENT, twice),
    ]


def test_no_state_removes_another() -> None:
    log = _case()
    evicted = log.add(NL_PROS, EventType.PARTY_REMOVED, None, {"jurisdiction": "BE"}).seq
    violations = replay(log.entries).violations
    assert [(v.rule, v.seq) for v in violations] == [(Rule.PARTY_WITHDRAWAL, evicted)]
    assert "only a state itself withdraws" in violations[0].message


def test_a_state_withdraws_itself_but_the_case_keeps_one_party() -> None:
    log = _case()
    log.add(BE_PROS, EventType.PARTY_REMOVED, None, {"jurisdiction": "BE"})
    state = replay(log.entries).state
    assert state.parties == {"NL"}
    assert state.removal_refusal("NL", "NL") is Refusal.LAST_PARTY
    assert state.removal_refusal("BE", "NL") is Refusal.OTHER_STATE
    last = log.add(NL_PROS, EventType.PARTY_REMOVED, None, {"jurisdiction": "NL"}).seq
    assert _rules(log) == [(Rule.PARTY_WITHDRAWAL, last)]


# --- holds ----------------------------------------------------------------------------


def _hold(log: LogBuilder, by: Actor, exhibit: str) -> int:
    data = {"reason": "trial", "authority": "order 1"}
    return log.add(by, EventType.HOLD_SET, exhibit, data).seq


def _release(log: LogBuilder, by: Actor, exhibit: str, hold: int) -> int:
    data = {"reason": "verdict", "hold": hold}
    return log.add(by, EventType.HOLD_RELEASED, exhibit, data).seq


def _dispose(log: LogBuilder, by: Actor, exhibit: str) -> int:
    data = {"reason": "returned", "authority": "OM"}
    return log.add(by, EventType.DISPOSED, exhibit, data).seq


def test_several_holds_stay_open_by_seq_until_each_is_released() -> None:
    log = _case()
    first = _hold(log, NL_PROS, PHONE)
    second = _hold(log, NL_JUDGE, PHONE)
    state = replay(log.entries).state
    assert state.open_holds(PHONE) == [
        Hold(first, "NL", "prosecutor"),
        Hold(second, "NL", "judge"),
    ]
    assert [hold.by_judge for hold in state.open_holds(PHONE)] == [False, True]
    assert state.disposal_refusal(PHONE) is Refusal.ON_HOLD
    _release(log, NL_PROS, PHONE, first)
    assert [h.seq for h in replay(log.entries).state.open_holds(PHONE)] == [second]
    _release(log, NL_JUDGE, PHONE, second)
    state = replay(log.entries).state
    assert state.open_holds(PHONE) == []
    assert state.disposal_refusal(PHONE) is None
    _dispose(log, NL_PROS, PHONE)
    assert _rules(log) == []


def test_a_hold_released_by_another_state() -> None:
    log = _case()
    hold = _hold(log, NL_JUDGE, PHONE)
    foreign = _release(log, BE_PROS, PHONE, hold)
    violations = replay(log.entries).violations
    assert [(v.rule, v.seq) for v in violations] == [(Rule.HOLD_RELEASE, foreign)]
    assert "only the state that set a hold releases it" in violations[0].message


def test_a_judges_hold_is_released_only_by_a_judge() -> None:
    log = _case()
    hold = _hold(log, BE_JUDGE, DISK)
    state = replay(log.entries).state
    assert state.release_refusal("BE", "prosecutor", DISK, hold) is Refusal.JUDGE_HOLD
    assert state.release_refusal("BE", "judge", DISK, hold) is None
    by_prosecutor = _release(log, BE_PROS, DISK, hold)
    assert _rules(log) == [(Rule.HOLD_RELEASE, by_prosecutor)]


def test_a_release_ends_an_open_hold_of_that_exhibit() -> None:
    log = _case()
    hold = _hold(log, NL_PROS, PHONE)
    elsewhere = _release(log, BE_PROS, DISK, hold)  # the hold is the phone's
    _release(log, NL_PROS, PHONE, hold)
    twice = _release(log, NL_PROS, PHONE, hold)
    assert _rules(log) == [(Rule.HOLD_RELEASE, elsewhere), (Rule.HOLD_RELEASE, twice)]


def test_no_disposal_under_a_hold() -> None:
    log = _case()
    hold = _hold(log, NL_PROS, PHONE)
    disposed = _dispose(log, NL_PROS, PHONE)
    violations = replay(log.entries).violations
    assert [(v.rule, v.seq) for v in violations] == [(Rule.DISPOSAL_UNDER_HOLD, disposed)]
    assert f"hold(s) {hold} are open" in violations[0].message


def test_holds_from_tables_answer_like_the_fold() -> None:
    state = CaseState.from_tables(
        exhibits={PHONE: ExhibitState(owner="NL", holds={7: Hold(7, "NL", "judge")})},
        proposals=[Proposal(9, "DE", "NL", frozenset({"NL", "BE"}), {"NL"})],
    )
    assert state.release_refusal("NL", "judge", PHONE, 7) is None
    assert state.release_refusal("NL", "prosecutor", PHONE, 7) is Refusal.JUDGE_HOLD
    assert state.release_refusal("BE", "judge", PHONE, 7) is Refusal.OTHER_STATE
    assert state.release_refusal("NL", "judge", PHONE, 8) is Refusal.NO_SUCH_HOLD
    assert state.disposal_refusal(PHONE) is Refusal.ON_HOLD
    assert state.disposal_refusal("unknown") is Refusal.UNKNOWN_EXHIBIT
    assert [p.missing for p in state.pending_proposals()] == [{"BE"}]


# --- the case policy ------------------------------------------------------------------


def test_the_newest_policy_set_is_the_case_policy() -> None:
    log = _case()
    assert replay(log.entries).state.policy is None
    log.add(SYSTEM_ACTOR, EventType.POLICY_SET, None, {"policy": "log a\nquorum none\n"})
    note = log.add(NL_INV, EventType.NOTE_ADDED, None, {"commitment": "0" * 64})
    newest = log.add(SYSTEM_ACTOR, EventType.POLICY_SET, None, {"policy": "log b\nquorum none\n"})
    state = replay(log.entries).state
    assert (state.policy, state.policy_seq) == ("log b\nquorum none\n", newest.seq)
    assert note.seq < newest.seq
