"""C2SP tlog-policy parsing and quorums, and verifying cosigned checkpoints against one."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.checkpoint import Checkpoint
from custody.cosignature import CosignatureSigner
from custody.errors import NoteFormatError, PolicyFormatError, QuorumNotMetError, SignatureError
from custody.note import Note, NoteSignature, NoteSigner, key_id, open_note, sign_note
from custody.policy import (
    Policy,
    PolicyGroup,
    PolicyLog,
    PolicyWitness,
    Threshold,
    build_policy,
    require_cosigned_checkpoint,
    verify_cosigned_checkpoint,
)

DATA = Path(__file__).parent / "data" / "c2sp"


def seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def witness_key(name: str) -> CosignatureSigner:
    return CosignatureSigner.from_seed(f"{name.lower()}.witness.example", seed(name))


SERVER_SEED = seed("jitc server")
ORIGIN = "jitc.localhost/case/0b5c1b3e-3f57-4c4b-9d59-2d1c8f5a6e10"
OTHER_ORIGIN = "jitc.localhost/case/7d1f0c2a-9a41-4d3b-8f36-0e5b4c3d2a19"
LOG = NoteSigner.from_seed(ORIGIN, SERVER_SEED)
LOG_VKEY = LOG.vkey()
W = {name: witness_key(name) for name in ["X1", "X2", "X3", "Y1", "Y2", "Y3", "NL-1", "BE-1"]}


def spec_example() -> str:
    """The tlog-policy example with deterministic test keys for its `<vkey>` placeholders."""
    text = (DATA / "tlog-policy-example.txt").read_text()
    text = text.replace("log <vkey>", f"log {LOG_VKEY}", 1)
    for name in ["X1", "X2", "X3", "Y1", "Y2", "Y3"]:
        text = text.replace(f"witness {name} <vkey>", f"witness {name} {W[name].vkey()}", 1)
    assert "<vkey>" not in text
    return text


def policy_text(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


def wline(name: str) -> str:
    return f"witness {name} {W[name].vkey()}"


# --- the spec example ---


def test_spec_example_parses() -> None:
    policy = Policy.parse(spec_example())
    assert [log.name for log in policy.logs] == [ORIGIN]
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert [(g.name, g.threshold, g.k) for g in policy.groups] == [
        ("X-witnesses", 2, 2),
        ("Y-witnesses", "any", 1),
        ("X-and-Y", "all", 2),
    ]
    assert policy.quorum == "X-and-Y"


@pytest.mark.parametrize(
    ("cosigners", "met"),
    [
        ({"X1", "X2", "Y1"}, True),
        ({"X2", "X3", "Y3"}, True),
        ({"X1", "X2", "X3", "Y1", "Y2", "Y3"}, True),
        ({"X1", "Y1", "Y2", "Y3"}, False),  # only one of X
        ({"X1", "X2", "X3"}, False),  # none of Y
        (set(), False),
    ],
)
def test_spec_example_quorum_needs_two_of_x_and_one_of_y(cosigners: set[str], met: bool) -> None:
    assert Policy.parse(spec_example()).quorum_met(cosigners) is met


def test_group_names_in_the_cosigner_set_satisfy_nothing() -> None:
    policy = Policy.parse(spec_example())
    assert not policy.quorum_met({"X-witnesses", "Y-witnesses", "X-and-Y"})


def test_spec_example_round_trips_through_to_text() -> None:
    policy = Policy.parse(spec_example())
    assert Policy.parse(policy.to_text()) == policy


# --- syntax ---


def test_comments_blank_lines_tabs_and_urls() -> None:
    text = policy_text(
        "# trusted log",
        f"  log\t{LOG_VKEY}   https://jitc.example/api  ",
        "",
        "\t",
        "   # witnesses",
        f"witness\tNL-1  {W['NL-1'].vkey()} https://witness.nl.example/",
        "quorum NL-1",
    )
    policy = Policy.parse(text)
    assert policy.logs[0].url == "https://jitc.example/api"
    assert policy.witnesses[0].url == "https://witness.nl.example/"
    assert policy.quorum_met({"NL-1"})
    assert not policy.quorum_met(set())
    assert Policy.parse(policy.to_text()) == policy


def test_quorum_none_is_always_met() -> None:
    policy = Policy.parse(policy_text(f"log {LOG_VKEY}", "quorum none"))
    assert policy.quorum is None
    assert policy.quorum_met(set())
    assert policy.to_text() == policy_text(f"log {LOG_VKEY}", "quorum none")


def test_quorum_none_with_witnesses_listed() -> None:
    policy = Policy.parse(policy_text(f"log {LOG_VKEY}", wline("NL-1"), "quorum none"))
    assert policy.quorum_met(set())


def test_policy_without_logs_is_allowed() -> None:
    # tlog-policy: only the quorum is mandatory.
    assert Policy.parse("quorum none\n").logs == ()


def test_policy_from_utf8_bytes() -> None:
    assert Policy.parse(spec_example().encode()) == Policy.parse(spec_example())


def test_non_ascii_names_are_opaque() -> None:
    text = policy_text(
        f"witness K {W['X1'].vkey()}", f"witness \u212a {W['X2'].vkey()}", "quorum \u212a"
    )
    policy = Policy.parse(text)
    assert policy.quorum_met({"\u212a"})
    assert not policy.quorum_met({"K"})


# --- one test per bad policy ---


def refused(text: str, match: str) -> None:
    with pytest.raises(PolicyFormatError, match=match):
        Policy.parse(text)


def test_unknown_directive_is_refused() -> None:
    refused(
        policy_text(f"log {LOG_VKEY}", "cosigner X1", "quorum none"), "line 2: unknown directive"
    )


def test_missing_quorum_is_refused() -> None:
    refused(policy_text(f"log {LOG_VKEY}", wline("X1")), "no quorum line")


def test_empty_policy_is_refused() -> None:
    refused("", "no quorum line")


def test_second_quorum_line_is_refused() -> None:
    refused(policy_text(wline("X1"), "quorum X1", "quorum none"), "line 3: second quorum line")


def test_quorum_of_undefined_name_is_refused() -> None:
    refused(policy_text(wline("X1"), "quorum X2"), "quorum 'X2' is not a witness or group defined")


def test_quorum_before_its_definition_is_refused() -> None:
    refused(policy_text("quorum X1", wline("X1")), "line 1: quorum 'X1' is not")


def test_group_with_undefined_member_is_refused() -> None:
    refused(policy_text(wline("X1"), "group G any X1 X2", "quorum G"), "names 'X2', which is not")


def test_group_referencing_a_later_group_is_refused() -> None:
    text = policy_text(wline("X1"), "group A any B", "group B any X1", "quorum A")
    refused(text, "line 2: group 'A' names 'B'")


def test_group_referencing_itself_is_refused() -> None:
    refused(policy_text(wline("X1"), "group A any A X1", "quorum A"), "group 'A' names 'A'")


def test_k_greater_than_members_is_refused() -> None:
    text = policy_text(wline("X1"), wline("X2"), "group G 3 X1 X2", "quorum G")
    refused(text, "threshold 3 is not between 1 and its 2 member")


def test_k_zero_is_refused() -> None:
    refused(policy_text(wline("X1"), "group G 0 X1", "quorum G"), "threshold 0 is not between")


@pytest.mark.parametrize("k", ["01", "two", "-1", "+1", "1.0", "ALL", "Any"])
def test_k_that_is_not_all_any_or_a_decimal_is_refused(k: str) -> None:
    refused(policy_text(wline("X1"), f"group G {k} X1", "quorum G"), "is not all, any or k")


def test_group_without_members_is_refused() -> None:
    refused(policy_text(wline("X1"), "group G any", "quorum none"), "wrong number of items")


def test_group_listing_a_member_twice_is_refused() -> None:
    text = policy_text(wline("X1"), wline("X2"), "group G 2 X1 X1", "quorum G")
    refused(text, "lists a member twice")


def test_none_as_group_member_is_refused() -> None:
    refused(
        policy_text(wline("X1"), "group G any X1 none", "quorum G"), "`none` cannot be a member"
    )


def test_none_as_witness_name_is_refused() -> None:
    refused(policy_text(f"witness none {W['X1'].vkey()}", "quorum none"), "`none` is predefined")


def test_duplicate_witness_name_is_refused() -> None:
    text = policy_text(wline("X1"), f"witness X1 {W['X2'].vkey()}", "quorum X1")
    refused(text, "line 2: name 'X1' is defined twice")


def test_group_named_like_a_witness_is_refused() -> None:
    refused(policy_text(wline("X1"), "group X1 any X1", "quorum X1"), "name 'X1' is defined twice")


def test_same_witness_key_under_two_names_is_refused() -> None:
    # tlog-policy: duplicate vkeys wrap the same public key, whatever name and key ID.
    same_key = CosignatureSigner.from_seed("renamed.example", seed("X1"))
    text = policy_text(wline("X1"), f"witness X9 {same_key.vkey()}", "quorum X1")
    refused(text, "'X1' and 'X9' have the same public key")


def test_duplicate_log_is_refused() -> None:
    renamed = NoteSigner.from_seed(OTHER_ORIGIN, SERVER_SEED).vkey()
    refused(policy_text(f"log {LOG_VKEY}", f"log {renamed}", "quorum none"), "duplicate log key")


def test_log_with_a_cosignature_key_is_refused() -> None:
    refused(policy_text(f"log {W['X1'].vkey()}", "quorum none"), "log vkey: .*type 0x01, not 0x04")


def test_witness_with_a_note_key_is_refused() -> None:
    refused(policy_text(f"witness X1 {LOG_VKEY}", "quorum none"), "type 0x04, not 0x01")


def test_malformed_vkey_is_refused() -> None:
    refused(policy_text(f"log {LOG_VKEY[:-4]}", "quorum none"), "line 1: log vkey")


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("log", "wrong number of items on a log line"),
        (f"log {LOG_VKEY} https://a.example extra", "wrong number of items on a log line"),
        ("witness X1", "wrong number of items on a witness line"),
        ("quorum", "wrong number of items on a quorum line"),
        ("quorum X1 X2", "wrong number of items on a quorum line"),
    ],
)
def test_wrong_number_of_items_is_refused(line: str, match: str) -> None:
    refused(policy_text(line, "quorum none"), match)


@pytest.mark.parametrize("control", ["\r", "\x00", "\x0b", "\x0c", "\x1b", "\x7f"])
def test_control_characters_other_than_tab_and_newline_are_refused(control: str) -> None:
    refused(policy_text(f"log {LOG_VKEY}{control}", "quorum none"), "line 1: control character")


def test_crlf_policy_is_refused() -> None:
    refused(
        policy_text(f"log {LOG_VKEY}", "quorum none").replace("\n", "\r\n"), "control character"
    )


def test_missing_final_newline_is_refused() -> None:
    refused(f"log {LOG_VKEY}\nquorum none", "must end with a newline")


def test_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(PolicyFormatError, match="not valid UTF-8"):
        Policy.parse(b"# \xff\nquorum none\n")


def test_model_refuses_what_the_parser_refuses() -> None:
    x1 = PolicyWitness("X1", W["X1"].vkey())
    with pytest.raises(PolicyFormatError, match="not a witness or group"):
        Policy((), (x1,), (), "X2")
    with pytest.raises(PolicyFormatError, match="use None"):
        Policy((), (x1,), (), "none")
    with pytest.raises(PolicyFormatError, match="names 'G2'"):
        Policy((), (x1,), (PolicyGroup("G1", "any", ("G2",)), PolicyGroup("G2", 1, ("X1",))), None)
    with pytest.raises(PolicyFormatError, match="whitespace"):
        PolicyWitness("X 1", W["X1"].vkey())
    with pytest.raises(PolicyFormatError, match="whitespace"):
        PolicyLog(LOG_VKEY, url="https://a b")
    with pytest.raises(PolicyFormatError, match="threshold must be"):
        PolicyGroup("G", True, ("X1",))


# --- build_policy (custody-log-v1 §5) ---


def test_build_policy_without_witnesses_says_quorum_none() -> None:
    policy = build_policy(LOG_VKEY, [], quorum=None)
    assert policy.to_text() == f"log {LOG_VKEY}\nquorum none\n"
    assert build_policy(LOG_VKEY, [], quorum="all").quorum is None


def test_build_policy_with_k_of_n() -> None:
    witnesses = [("NL-1", W["NL-1"].vkey()), ("BE-1", W["BE-1"].vkey())]
    policy = build_policy(LOG_VKEY, witnesses, quorum=1)
    assert policy.to_text() == policy_text(
        f"log {LOG_VKEY}",
        f"witness NL-1 {W['NL-1'].vkey()}",
        f"witness BE-1 {W['BE-1'].vkey()}",
        "group witnesses 1 NL-1 BE-1",
        "quorum witnesses",
    )
    assert Policy.parse(policy.to_text()) == policy
    assert policy.quorum_met({"BE-1"})
    assert not build_policy(LOG_VKEY, witnesses, quorum="all").quorum_met({"BE-1"})
    assert build_policy(LOG_VKEY, witnesses, quorum="any").quorum_met({"NL-1"})


def test_build_policy_with_k_above_n_is_refused() -> None:
    with pytest.raises(PolicyFormatError, match="threshold 2 is not between 1 and its 1"):
        build_policy(LOG_VKEY, [("NL-1", W["NL-1"].vkey())], quorum=2)


# --- verifying a cosigned checkpoint (custody-log-v1 §6 check 5) ---

BODY = Checkpoint(ORIGIN, 12, hashlib.sha256(b"root").digest()).body()
T0 = 1_790_000_000


def cosigned(*names: str, body: str = BODY, log: NoteSigner = LOG) -> Note:
    note = sign_note(body, [log])
    return note.with_signatures([W[name].cosign(body, T0 + i) for i, name in enumerate(names)])


def nl_be_policy(quorum: int | Literal["all", "any"] | None = "all") -> Policy:
    witnesses = [("NL-1", W["NL-1"].vkey()), ("BE-1", W["BE-1"].vkey())]
    return build_policy(LOG_VKEY, witnesses, quorum=quorum)


def test_fully_cosigned_checkpoint_verifies() -> None:
    verdict = require_cosigned_checkpoint(cosigned("NL-1", "BE-1"), nl_be_policy(), origin=ORIGIN)
    assert verdict.ok
    assert verdict.quorum_met
    assert verdict.bad_signatures == ()
    assert verdict.checkpoint == Checkpoint.parse_body(BODY)
    assert verdict.log.name == ORIGIN
    assert verdict.verified_witnesses == ("NL-1", "BE-1")
    assert verdict.cosigners == {"NL-1", "BE-1"}
    assert verdict.timestamps == {"NL-1": T0, "BE-1": T0 + 1}
    assert verdict.newest_timestamp == T0 + 1


def test_cosigned_checkpoint_survives_serialisation() -> None:
    note = Note.parse(cosigned("BE-1", "NL-1").to_bytes())
    assert require_cosigned_checkpoint(note, nl_be_policy(), origin=ORIGIN).ok


def test_log_vkey_is_the_server_key_under_the_case_origin() -> None:
    server = NoteSigner.from_seed("jitc.localhost", SERVER_SEED)
    assert server.verifier().for_name(ORIGIN).vkey() == LOG_VKEY


def test_unknown_witness_line_is_ignored() -> None:
    stranger = CosignatureSigner.from_seed("stranger.example", seed("stranger")).cosign(BODY, T0)
    note = cosigned("NL-1", "BE-1").with_signatures([stranger])
    verdict = require_cosigned_checkpoint(note, nl_be_policy(), origin=ORIGIN)
    assert verdict.verified_witnesses == ("NL-1", "BE-1")


def test_cosignature_with_altered_timestamp_is_a_bad_signature() -> None:
    note = cosigned("NL-1", "BE-1")
    sig = note.signatures[1]
    altered = NoteSignature(
        sig.name, sig.key_id, (T0 - 86400).to_bytes(8, "big") + sig.signature[8:]
    )
    forged = note.with_signatures([altered])
    verdict = verify_cosigned_checkpoint(forged, nl_be_policy(quorum="any"), origin=ORIGIN)
    assert verdict.bad_signatures == ("NL-1",)
    assert verdict.quorum_met
    assert not verdict.ok
    with pytest.raises(
        SignatureError, match="cosignature does not verify for witness\\(es\\): NL-1"
    ):
        require_cosigned_checkpoint(forged, nl_be_policy(quorum="any"), origin=ORIGIN)


def test_cosignature_moved_from_another_checkpoint_is_a_bad_signature() -> None:
    older = Checkpoint(ORIGIN, 11, hashlib.sha256(b"old root").digest()).body()
    moved = W["NL-1"].cosign(older, T0)
    note = cosigned("BE-1").with_signatures([moved])
    verdict = verify_cosigned_checkpoint(note, nl_be_policy(), origin=ORIGIN)
    assert verdict.bad_signatures == ("NL-1",)
    assert not verdict.quorum_met


def test_quorum_not_met_is_reported_and_raised() -> None:
    verdict = verify_cosigned_checkpoint(cosigned("NL-1"), nl_be_policy(), origin=ORIGIN)
    assert not verdict.quorum_met
    assert not verdict.ok
    with pytest.raises(
        QuorumNotMetError, match="quorum 'witnesses' not met \\(cosigned by NL-1\\)"
    ):
        require_cosigned_checkpoint(cosigned("NL-1"), nl_be_policy(), origin=ORIGIN)


def test_quorum_not_met_with_nested_groups() -> None:
    policy = Policy.parse(spec_example())
    # Two X witnesses but no Y: the outer `all` group fails although three cosigned.
    note = cosigned("X1", "X2", "X3")
    verdict = verify_cosigned_checkpoint(note, policy, origin=ORIGIN)
    assert verdict.verified_witnesses == ("X1", "X2", "X3")
    assert not verdict.quorum_met
    with pytest.raises(QuorumNotMetError, match="X-and-Y"):
        require_cosigned_checkpoint(note, policy, origin=ORIGIN)
    assert require_cosigned_checkpoint(cosigned("X1", "X3", "Y2"), policy, origin=ORIGIN).ok


def test_quorum_none_needs_no_cosignature() -> None:
    policy = build_policy(LOG_VKEY, [], quorum=None)
    verdict = require_cosigned_checkpoint(sign_note(BODY, [LOG]), policy, origin=ORIGIN)
    assert verdict.ok
    assert verdict.cosignatures == ()
    assert verdict.newest_timestamp is None


def test_checkpoint_without_log_signature_is_refused() -> None:
    note = Note(BODY, (W["NL-1"].cosign(BODY, T0), W["BE-1"].cosign(BODY, T0)))
    with pytest.raises(SignatureError, match="no signature from a log key"):
        verify_cosigned_checkpoint(note, nl_be_policy(), origin=ORIGIN)


def test_checkpoint_signed_by_another_key_is_refused() -> None:
    impostor = NoteSigner.from_seed(ORIGIN, seed("impostor"))
    with pytest.raises(SignatureError, match="no signature from a log key"):
        verify_cosigned_checkpoint(
            cosigned("NL-1", "BE-1", log=impostor), nl_be_policy(), origin=ORIGIN
        )


def test_tampered_checkpoint_is_refused() -> None:
    note = cosigned("NL-1", "BE-1")
    tampered = Note(note.text.replace("\n12\n", "\n13\n"), note.signatures)
    with pytest.raises(SignatureError, match=r"log signature of .* does not verify"):
        verify_cosigned_checkpoint(tampered, nl_be_policy(), origin=ORIGIN)


def test_origin_without_a_policy_log_is_refused() -> None:
    with pytest.raises(SignatureError, match="no log key for origin"):
        verify_cosigned_checkpoint(cosigned("NL-1"), nl_be_policy(), origin=OTHER_ORIGIN)


def test_checkpoint_of_another_case_with_renamed_signature_is_refused() -> None:
    # One server key signs every case (custody-log-v1 §4) and Ed25519 note signatures do
    # not commit to the key name: rename case B's signature line to case A's origin,
    # recompute the key ID, and the signature verifies under A's vkey.
    other_body = Checkpoint(OTHER_ORIGIN, 99, hashlib.sha256(b"B").digest()).body()
    other = sign_note(other_body, [NoteSigner.from_seed(OTHER_ORIGIN, SERVER_SEED)])
    sig = other.signatures[0]
    renamed = NoteSignature(ORIGIN, key_id(ORIGIN, 0x01, LOG.public_key), sig.signature)
    forged = Note(other.text, (renamed,))
    open_note(forged, LOG.verifier())  # the signature alone does verify...
    policy = build_policy(LOG_VKEY, [], quorum=None)
    with pytest.raises(SignatureError, match="is not the expected origin"):  # ...the origin not
        verify_cosigned_checkpoint(forged, policy, origin=ORIGIN)


def test_extension_lines_are_exposed_or_refused_on_request() -> None:
    body = BODY + "extension\n"
    note = cosigned("NL-1", "BE-1", body=body)
    verdict = verify_cosigned_checkpoint(note, nl_be_policy(), origin=ORIGIN)
    assert verdict.ok
    assert verdict.checkpoint.extensions == ("extension",)
    with pytest.raises(NoteFormatError, match="no extension lines"):
        verify_cosigned_checkpoint(note, nl_be_policy(), origin=ORIGIN, allow_extensions=False)
    with pytest.raises(NoteFormatError, match="no extension lines"):
        require_cosigned_checkpoint(note, nl_be_policy(), origin=ORIGIN, allow_extensions=False)


def test_signed_text_that_is_not_a_checkpoint_is_refused() -> None:
    note = sign_note("not a checkpoint\n", [LOG])
    with pytest.raises(NoteFormatError, match="fewer than three lines"):
        verify_cosigned_checkpoint(note, build_policy(LOG_VKEY, [], quorum=None), origin=ORIGIN)


# --- properties ---

_NAMES = [f"W{i}" for i in range(6)]
_WORDS: list[Literal["all", "any"]] = ["all", "any"]
_WITNESS_KEYS = {name: witness_key(name) for name in _NAMES}


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    n = draw(st.integers(min_value=1, max_value=len(_NAMES)))
    witnesses = tuple(PolicyWitness(name, _WITNESS_KEYS[name].vkey()) for name in _NAMES[:n])
    defined = [w.name for w in witnesses]
    groups: list[PolicyGroup] = []
    for g in range(draw(st.integers(min_value=0, max_value=4))):
        members = draw(st.lists(st.sampled_from(defined), min_size=1, unique=True))
        threshold: Threshold = draw(
            st.sampled_from(_WORDS) | st.integers(min_value=1, max_value=len(members))
        )
        groups.append(PolicyGroup(f"G{g}", threshold, tuple(members)))
        defined.append(f"G{g}")
    quorum = draw(st.none() | st.sampled_from(defined))
    return Policy((PolicyLog(LOG_VKEY),), witnesses, tuple(groups), quorum)


@given(policy=policies())
def test_property_policy_round_trips(policy: Policy) -> None:
    assert Policy.parse(policy.to_text()) == policy


@given(policy=policies(), cosigners=st.sets(st.sampled_from(_NAMES)), extra=st.sampled_from(_NAMES))
def test_property_quorum_is_monotone(policy: Policy, cosigners: set[str], extra: str) -> None:
    # One more cosignature never turns a met quorum into an unmet one.
    if policy.quorum_met(cosigners):
        assert policy.quorum_met(cosigners | {extra})
    assert policy.quorum_met(set(_NAMES))
