"""C2SP signed-note: public vectors, round trips and one test per bad input or attack."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.errors import KeyFormatError, NoteFormatError, SignatureError
from custody.note import (
    COSIGNATURE_KEY_TYPE,
    ED25519_KEY_TYPE,
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    decode_base64,
    is_valid_key_name,
    key_id,
    open_note,
    parse_ascii_decimal,
    parse_signature_lines,
    parse_vkey,
    sign_note,
)

DATA = Path(__file__).parent / "data" / "c2sp"


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def line_of(name: str) -> str:
    return data(name).decode().rstrip("\n")


def seed(label: str) -> bytes:
    """Deterministic 32-byte test seed."""
    return hashlib.sha256(label.encode()).digest()


GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_VKEY = line_of("go-peterneumann.vkey")
ENOCH_VKEY = line_of("go-enochroot.vkey")
PETER_SIG = data("go-peterneumann.note").decode()[len(GO_TEXT) + 1 :]  # "— PeterNeumann ...\n"
ENOCH_SIG = data("go-two-signatures.note").decode()[len(GO_TEXT) + 1 + len(PETER_SIG) :]


# --- public vectors ---


def test_signed_note_spec_example_verifies_with_spec_vkey() -> None:
    verifier = NoteVerifier.from_vkey(line_of("signed-note-example.vkey"))
    note = Note.parse(data("signed-note-example.note"))
    assert note.text == "This is an example message.\n"
    assert verifier.key_id.hex() == "530d903a"
    open_note(note, verifier)


def test_signed_note_spec_example_round_trips_byte_for_byte() -> None:
    raw = data("signed-note-example.note")
    assert Note.parse(raw).to_bytes() == raw
    assert NoteVerifier.from_vkey(line_of("signed-note-example.vkey")).vkey() == line_of(
        "signed-note-example.vkey"
    )


def test_key_id_is_the_spec_formula() -> None:
    name, kid, key_type, public_key = parse_vkey(line_of("signed-note-example.vkey"))
    expected = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public_key).digest()[:4]
    assert (key_type, kid) == (ED25519_KEY_TYPE, expected)
    assert key_id(name, ED25519_KEY_TYPE, public_key) == expected
    # The type byte is part of the hash: the same key as a cosigner has another ID.
    assert key_id(name, COSIGNATURE_KEY_TYPE, public_key) != expected


def test_quasimodo_example_text_keeps_its_inner_blank_line() -> None:
    note = Note.parse(data("signed-note-quasimodo.note"))
    assert note.text == (
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\n"
        "ed è subito sera.\n"
    )
    assert note.signatures[0].name == "quasimodo.example/salvatore"
    assert len(note.signatures[0].signature) == 64
    assert note.to_bytes() == data("signed-note-quasimodo.note")


def test_go_skey_derives_the_published_vkey() -> None:
    signer = NoteSigner.from_skey(line_of("go-peterneumann.skey"))
    assert signer.vkey() == PETER_VKEY
    assert signer.key_id.hex() == "c74f20a3"
    assert signer.skey() == line_of("go-peterneumann.skey")


def test_go_signer_reproduces_the_go_note_byte_for_byte() -> None:
    signer = NoteSigner.from_skey(line_of("go-peterneumann.skey"))
    assert sign_note(GO_TEXT, [signer]).to_bytes() == data("go-peterneumann.note")


def test_go_two_signature_note_verifies_with_each_key() -> None:
    note = Note.parse(data("go-two-signatures.note"))
    open_note(note, NoteVerifier.from_vkey(PETER_VKEY))
    open_note(note, NoteVerifier.from_vkey(ENOCH_VKEY))
    assert note.to_bytes() == data("go-two-signatures.note")


def test_vkey_with_plus_inside_its_base64_parses() -> None:
    vkey = line_of("transparency-dev-ed25519.vkey")
    verifier = NoteVerifier.from_vkey(vkey)
    assert (verifier.name, verifier.key_id.hex(), verifier.vkey()) == ("TEST", "7997405c", vkey)


def test_tlog_witness_response_parses_as_signature_lines() -> None:
    sigs = parse_signature_lines(data("tlog-witness-add-checkpoint-response.txt"))
    assert [(s.name, s.key_id.hex()) for s in sigs] == [
        ("witness.example/w1", "08ca7ee8"),
        ("witness.example/w1", "23bac4a6"),
        ("witness.example/w2", "016ba2f1"),
    ]
    assert "".join(s.line() for s in sigs).encode() == data(
        "tlog-witness-add-checkpoint-response.txt"
    )


# --- verifier keys: Go's TestNewVerifier manglings, and more ---


def test_vkey_every_truncation_is_refused() -> None:
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(KeyFormatError):
                    NoteVerifier.from_vkey(PETER_VKEY[i:j])


def test_vkey_every_single_character_change_is_refused() -> None:
    for i, ch in enumerate(PETER_VKEY):
        mangled = PETER_VKEY[:i] + chr(ord(ch) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(KeyFormatError):
            NoteVerifier.from_vkey(mangled)


def test_vkey_wrong_key_length_with_matching_key_id_is_refused() -> None:
    # Go's vector: its "BADKEY==" tail is also non-canonical base64, refused first here.
    with pytest.raises(KeyFormatError, match="non-canonical"):
        NoteVerifier.from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
    # The same attack in canonical base64, key ID recomputed for the 36-byte key.
    key = decode_base64("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW") + b"BAD"
    kid = key_id("PeterNeumann", key[0], key[1:]).hex()
    vkey = f"PeterNeumann+{kid}+{base64.b64encode(key).decode()}"
    with pytest.raises(KeyFormatError, match="32 bytes"):
        NoteVerifier.from_vkey(vkey)


def test_vkey_unknown_algorithm_with_matching_key_id_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="unsupported vkey signature type 0x65"):
        NoteVerifier.from_vkey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_vkey_key_id_not_derived_from_key_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="does not match"):
        NoteVerifier.from_vkey(PETER_VKEY.replace("c74f20a3", "00000000"))


def test_vkey_key_id_that_is_not_8_hex_digits_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="8 hex digits"):
        NoteVerifier.from_vkey(PETER_VKEY.replace("c74f20a3", "c7 4f20a"))


def test_vkey_uppercase_hex_key_id_is_accepted_like_go() -> None:
    verifier = NoteVerifier.from_vkey(PETER_VKEY.replace("c74f20a3", "C74F20A3"))
    assert verifier.vkey() == PETER_VKEY


def test_cosignature_vkey_is_refused_as_a_note_key() -> None:
    with pytest.raises(KeyFormatError, match="type 0x01, not 0x04"):
        NoteVerifier.from_vkey(line_of("transparency-dev-cosignature.vkey"))


def test_ecdsa_vkey_is_refused_as_unsupported() -> None:
    # transparency-dev/formats note_verifier_test.go: the Rekor ECDSA key (type 0x02).
    rekor = (
        "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMd"
        "GvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc="
    )
    with pytest.raises(KeyFormatError, match="unsupported vkey signature type 0x02"):
        parse_vkey(rekor)


def test_vkey_name_with_space_is_refused() -> None:
    signer = NoteSigner.from_seed("ok", seed("space"))
    vkey = signer.vkey().replace("ok+", "o k+", 1)
    with pytest.raises(KeyFormatError, match="invalid key name"):
        NoteVerifier.from_vkey(vkey)


@pytest.mark.parametrize(
    "name", ["", "a+b", "a b", "a\u00a0b", "a\u2003b", "a\tb", "a\nb", "a\x00b"]
)
def test_invalid_key_names_are_refused(name: str) -> None:
    assert not is_valid_key_name(name)
    with pytest.raises(KeyFormatError, match="invalid key name"):
        NoteSigner.from_seed(name, seed("name"))


def test_skey_manglings_are_refused() -> None:
    skey = line_of("go-peterneumann.skey")
    for i, ch in enumerate(skey):
        mangled = skey[:i] + chr(ord(ch) + 1) + skey[i + 1 :]
        with pytest.raises(KeyFormatError):
            NoteSigner.from_skey(mangled)


# --- parsing: Go's TestOpen bad messages, and more ---


def test_note_without_blank_line_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="no blank line"):
        Note.parse(GO_TEXT.encode())


def test_note_without_signatures_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="no signature lines"):
        Note.parse((GO_TEXT + "\n").encode())


def test_note_missing_final_newline_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="must end with a newline"):
        Note.parse((GO_TEXT + "\n" + PETER_SIG[:-1]).encode())


def test_note_with_control_character_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="control character"):
        Note.parse(("\x01" + GO_TEXT + "\n" + PETER_SIG).encode())


@pytest.mark.parametrize("control", ["\x00", "\t", "\r", "\x1b", "\x1f"])
def test_note_with_any_control_character_but_newline_is_refused(control: str) -> None:
    with pytest.raises(NoteFormatError, match="control character"):
        Note.parse(("ab" + control + "c\n\n" + PETER_SIG).encode())
    with pytest.raises(NoteFormatError, match="control character"):
        Note.parse((GO_TEXT + "\n" + PETER_SIG[:-1] + control + "\n").encode())


def test_note_with_crlf_line_endings_is_refused() -> None:
    crlf = (GO_TEXT + "\n" + PETER_SIG).replace("\n", "\r\n").encode()
    with pytest.raises(NoteFormatError, match="control character"):
        Note.parse(crlf)


@pytest.mark.parametrize(
    "bad",
    [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x80"],
    ids=["0xff", "overlong", "surrogate", "above-U+10FFFF", "truncated"],
)
def test_note_that_is_not_utf8_is_refused(bad: bytes) -> None:
    with pytest.raises(NoteFormatError, match="UTF-8"):
        Note.parse(bad + (GO_TEXT + "\n" + PETER_SIG).encode())


def test_signature_line_name_with_space_is_refused() -> None:
    bad = GO_TEXT + "\n— Bad Name " + PETER_SIG.split(" ")[2]
    with pytest.raises(NoteFormatError, match="base64"):
        Note.parse(bad.encode())


def test_unexpected_line_after_signatures_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="em dash"):
        Note.parse((GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n").encode())


@pytest.mark.parametrize("prefix", ["- ", "-- ", "\u2013 ", "\u2014", "\u2014  "])
def test_signature_line_without_em_dash_and_one_space_is_refused(prefix: str) -> None:
    bad = GO_TEXT + "\n" + prefix + PETER_SIG[2:]
    with pytest.raises(NoteFormatError):
        Note.parse(bad.encode())


def test_signature_with_plus_in_key_name_is_refused() -> None:
    bad = GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann")
    with pytest.raises(NoteFormatError, match="invalid key name"):
        Note.parse(bad.encode())


def test_signature_with_unicode_space_in_key_name_is_refused() -> None:
    bad = GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter\u3000Neumann")
    with pytest.raises(NoteFormatError, match="invalid key name"):
        Note.parse(bad.encode())


def test_truncated_base64_signature_is_refused() -> None:
    bad = GO_TEXT + "\n" + PETER_SIG[:-6] + "\n"
    with pytest.raises(NoteFormatError, match="base64"):
        Note.parse(bad.encode())


def test_non_canonical_base64_signature_is_refused() -> None:
    # "...JnAM=": 'M' carries two zero padding bits; 'N' sets one, decoding the same bytes.
    assert PETER_SIG.endswith("JnAM=\n")
    bad = GO_TEXT + "\n" + PETER_SIG.replace("JnAM=", "JnAN=")
    with pytest.raises(NoteFormatError, match="non-canonical"):
        Note.parse(bad.encode())


def test_unpadded_or_url_safe_base64_signature_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="base64"):
        Note.parse((GO_TEXT + "\n" + PETER_SIG.replace("JnAM=", "JnAM")).encode())
    with pytest.raises(NoteFormatError, match="base64"):
        Note.parse((GO_TEXT + "\n" + PETER_SIG.replace("/", "_")).encode())


def test_signature_of_only_a_key_id_is_refused() -> None:
    bad = GO_TEXT + "\n— PeterNeumann " + base64.b64encode(b"\xc7\x4f\x20\xa3").decode() + "\n"
    with pytest.raises(NoteFormatError, match="too short"):
        Note.parse(bad.encode())


def test_duplicate_signature_lines_are_parsed_and_still_verify() -> None:
    # custody-log-v1 6.5: lines from unknown keys are ignored, not failed, so a note is
    # not refused for repeating a line (Go's sumdb/note accepts it too).
    note = Note.parse((GO_TEXT + "\n" + PETER_SIG + PETER_SIG).encode())
    assert len(note.signatures_for(note.signatures[0].name, note.signatures[0].key_id)) == 2
    open_note(note, NoteVerifier.from_vkey(PETER_VKEY))


def test_a_forged_second_line_of_a_known_key_fails_verification() -> None:
    forged = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    note = Note.parse((GO_TEXT + "\n" + PETER_SIG + forged).encode())
    with pytest.raises(SignatureError, match="does not verify"):
        open_note(note, NoteVerifier.from_vkey(PETER_VKEY))


def test_same_name_with_different_key_ids_is_allowed() -> None:
    # tlog-witness example request: two log keys under one name.
    request = data("tlog-witness-add-checkpoint-request.txt")
    note = Note.parse(request[request.index(b"\n\n") + 2 :])
    assert [(s.name, s.key_id.hex()) for s in note.signatures] == [
        ("example.com/behind-the-sofa", "033de0ae"),
        ("example.com/behind-the-sofa", "a292ea05"),
    ]


def distinct_signature_lines(count: int) -> str:
    return "".join(
        NoteSignature(f"key{i}.example", bytes(4), bytes(64)).line() for i in range(count)
    )


def test_sixteen_signatures_are_accepted() -> None:
    # C2SP signed-note: verifiers MUST accept at least 16 signatures.
    note = Note.parse((GO_TEXT + "\n" + distinct_signature_lines(16)).encode())
    assert len(note.signatures) == 16


def test_max_signatures_are_accepted() -> None:
    note = Note.parse((GO_TEXT + "\n" + distinct_signature_lines(MAX_SIGNATURES)).encode())
    assert len(note.signatures) == MAX_SIGNATURES


def test_too_many_signatures_are_refused() -> None:
    too_many = GO_TEXT + "\n" + distinct_signature_lines(MAX_SIGNATURES + 1)
    with pytest.raises(NoteFormatError, match=f"more than {MAX_SIGNATURES} signature lines"):
        Note.parse(too_many.encode())


def test_oversized_note_is_refused() -> None:
    huge = ("a" * MAX_NOTE_BYTES + "\n\n" + PETER_SIG).encode()
    with pytest.raises(NoteFormatError, match="larger than"):
        Note.parse(huge)


# --- verification ---


def test_tampered_body_fails_verification() -> None:
    tampered = data("go-peterneumann.note").replace(b"problem,", b"problem;")
    with pytest.raises(SignatureError, match="does not verify"):
        open_note(Note.parse(tampered), NoteVerifier.from_vkey(PETER_VKEY))


def test_bad_signature_from_known_key_fails_verification() -> None:
    # Go TestOpen "Invalid signature": four base64 characters spliced into the signature.
    bad = GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(SignatureError, match="PeterNeumann\\+c74f20a3 does not verify"):
        open_note(Note.parse(bad.encode()), NoteVerifier.from_vkey(PETER_VKEY))


def test_signature_from_unknown_key_is_ignored() -> None:
    mallory = NoteSigner.from_seed("mallory.example", seed("mallory")).sign("something else\n")
    note = Note.parse(data("go-peterneumann.note")).with_signatures([mallory])
    open_note(note, NoteVerifier.from_vkey(PETER_VKEY))


def test_only_unknown_keys_fail_verification() -> None:
    note = Note.parse(data("go-two-signatures.note"))
    stranger = NoteSigner.from_seed("PeterNeumann", seed("not peter")).verifier()
    with pytest.raises(SignatureError, match="no signature from key PeterNeumann"):
        open_note(note, stranger)


def test_wrong_key_id_makes_the_line_unknown() -> None:
    # A line with the known name but another key ID is another key's: ignored, so the
    # note has no signature from the trusted key.
    sig = Note.parse(data("go-peterneumann.note")).signatures[0]
    other = NoteSignature(sig.name, b"\x00\x00\x00\x00", sig.signature)
    with pytest.raises(SignatureError, match="no signature from key"):
        open_note(Note(GO_TEXT, (other,)), NoteVerifier.from_vkey(PETER_VKEY))


def test_known_key_id_under_another_name_is_ignored() -> None:
    sig = Note.parse(data("go-peterneumann.note")).signatures[0]
    renamed = NoteSignature("CarmenSandiego", sig.key_id, sig.signature)
    with pytest.raises(SignatureError, match="no signature from key"):
        open_note(Note(GO_TEXT, (renamed,)), NoteVerifier.from_vkey(PETER_VKEY))


def test_verifier_rejects_signature_of_wrong_length() -> None:
    verifier = NoteVerifier.from_vkey(PETER_VKEY)
    sig = Note.parse(data("go-peterneumann.note")).signatures[0]
    assert verifier.verify(GO_TEXT, sig)
    assert not verifier.verify(GO_TEXT, NoteSignature(sig.name, sig.key_id, sig.signature[:63]))
    assert not verifier.verify(GO_TEXT, NoteSignature(sig.name, sig.key_id, sig.signature + b"\0"))


def test_for_name_is_the_same_key_under_another_name() -> None:
    # custody-log-v1 §4: a case's log vkey is the server key under the case origin.
    server = NoteSigner.from_seed("jitc.localhost", seed("server"))
    origin = "jitc.localhost/case/0b5c1b3e-3f57-4c4b-9d59-2d1c8f5a6e10"
    case_verifier = server.verifier().for_name(origin)
    assert case_verifier.public_key == server.public_key
    assert case_verifier.key_id == key_id(origin, ED25519_KEY_TYPE, server.public_key)
    assert case_verifier.vkey() == NoteSigner.from_seed(origin, seed("server")).vkey()
    note = sign_note("checkpoint\n", [NoteSigner.from_seed(origin, seed("server"))])
    open_note(note, case_verifier)
    with pytest.raises(SignatureError, match="no signature"):
        open_note(note, server.verifier())


# --- construction and round trips ---


def test_sign_parse_round_trip_with_two_signers() -> None:
    signers = [NoteSigner.from_seed(f"log{i}.example", seed(f"log{i}")) for i in range(2)]
    note = sign_note("hello\n\nworld\n", signers)
    again = Note.parse(note.to_bytes())
    assert again == note
    for signer in signers:
        open_note(again, signer.verifier())


def test_with_signatures_appends_and_replaces_the_same_key() -> None:
    a = NoteSigner.from_seed("a.example", seed("a"))
    b = NoteSigner.from_seed("b.example", seed("b"))
    note = sign_note("text\n", [a])
    both = note.with_signatures([b.sign("text\n")])
    assert [s.name for s in both.signatures] == ["a.example", "b.example"]
    stale = NoteSignature("b.example", b.key_id, bytes(64))
    replaced = note.with_signatures([stale]).with_signatures([b.sign("text\n")])
    assert replaced == both


def test_note_text_must_end_with_newline() -> None:
    sig = NoteSignature("a", bytes(4), bytes(64))
    with pytest.raises(NoteFormatError, match="end with a newline"):
        Note("no newline", (sig,))


def test_note_needs_a_signature() -> None:
    with pytest.raises(NoteFormatError, match="at least one signature"):
        Note("text\n", ())


def test_signer_refuses_text_without_final_newline() -> None:
    with pytest.raises(NoteFormatError, match="end with a newline"):
        NoteSigner.from_seed("a", seed("a")).sign("abc")


def test_signer_refuses_text_with_lone_surrogate() -> None:
    with pytest.raises(NoteFormatError, match="UTF-8"):
        NoteSigner.from_seed("a", seed("a")).sign("\ud800\n")


def test_signature_key_id_must_be_4_bytes() -> None:
    with pytest.raises(NoteFormatError, match="4 bytes"):
        NoteSignature("a", bytes(3), bytes(64))


def test_signature_line_round_trip() -> None:
    sig = NoteSigner.from_seed("a.example/x", seed("x")).sign("t\n")
    assert NoteSignature.from_line(sig.line()) == sig
    with pytest.raises(NoteFormatError, match="ending in a newline"):
        NoteSignature.from_line(sig.line()[:-1])


def test_signer_seed_round_trip_and_repr_hides_the_key() -> None:
    signer = NoteSigner.from_seed("a.example", seed("a"))
    assert signer.private_seed() == seed("a")
    assert NoteSigner.from_seed("a.example", signer.private_seed()).vkey() == signer.vkey()
    assert seed("a").hex() not in repr(signer)
    assert signer.private_seed().hex() not in repr(signer)
    with pytest.raises(KeyFormatError, match="32 bytes"):
        NoteSigner.from_seed("a.example", bytes(31))


def test_generated_signers_differ_and_verify() -> None:
    one, two = NoteSigner.generate("g.example"), NoteSigner.generate("g.example")
    assert one.public_key != two.public_key
    open_note(sign_note("x\n", [one]), one.verifier())


def test_decimal_and_base64_primitives_are_strict() -> None:
    assert parse_ascii_decimal("0", max_value=10) == 0
    for bad in ["", "01", "-1", "+1", " 1", "1_0", "\u0661", "11"]:
        with pytest.raises(ValueError, match="decimal"):
            parse_ascii_decimal(bad, max_value=10)
    assert decode_base64("") == b""
    for bad in ["QR==", "QQ", "QQ=", "Q===", "QQ==\n", "Q Q==", "-_=="]:
        with pytest.raises(ValueError, match="base64"):
            decode_base64(bad)


# --- properties ---

_TEXT_CHARS = st.characters(
    exclude_categories=["Cs"], exclude_characters=[chr(c) for c in range(0x20) if c != 0x0A]
)
_NAME_CHARS = st.characters(
    exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], exclude_characters="+"
)
_names = st.text(_NAME_CHARS, min_size=1, max_size=20).filter(is_valid_key_name)
_signatures = st.builds(
    NoteSignature,
    name=_names,
    key_id=st.binary(min_size=4, max_size=4),
    signature=st.binary(min_size=1, max_size=100),
)


@given(
    text=st.text(_TEXT_CHARS, max_size=200).map(lambda t: t + "\n"),
    signatures=st.lists(
        _signatures, min_size=1, max_size=20, unique_by=lambda s: (s.name, s.key_id)
    ),
)
def test_property_note_round_trips(text: str, signatures: list[NoteSignature]) -> None:
    note = Note(text, tuple(signatures))
    assert Note.parse(note.to_bytes()) == note


@given(text=st.text(_TEXT_CHARS, max_size=100).map(lambda t: t + "\n"), name=_names)
def test_property_signatures_verify_and_bind_the_text(text: str, name: str) -> None:
    signer = NoteSigner.from_seed(name, seed("property"))
    note = Note.parse(sign_note(text, [signer]).to_bytes())
    open_note(note, signer.verifier())
    with pytest.raises(SignatureError):
        open_note(Note("x" + text, note.signatures), signer.verifier())
