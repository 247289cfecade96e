"""C2SP tlog-cosignature (Ed25519 cosignature/v1): vectors, round trips and attacks."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from custody.checkpoint import Checkpoint
from custody.cosignature import (
    COSIGNATURE_KEY_TYPE,
    MAX_TIMESTAMP,
    CosignatureSigner,
    CosignatureVerifier,
    cosignature_timestamp,
    cosigned_message,
)
from custody.errors import KeyFormatError, NoteFormatError
from custody.note import (
    ED25519_KEY_TYPE,
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    key_id,
    parse_signature_lines,
    sign_note,
)

DATA = Path(__file__).parent / "data" / "c2sp"
BODY = Checkpoint("example.com/log", 7, hashlib.sha256(b"root").digest()).body()
TS = 1_700_000_000


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def witness(name: str = "witness.example/w1") -> CosignatureSigner:
    return CosignatureSigner.from_seed(name, seed(name))


# --- public vectors ---


def test_spec_example_line_is_key_id_timestamp_signature() -> None:
    note = Note.parse(data("tlog-cosignature-example.note"))
    line = note.signatures[1]
    assert (line.name, line.key_id.hex(), len(line.signature)) == (
        "witness.example.com/w1",
        "8d66cf3f",
        8 + 64,
    )
    assert cosignature_timestamp(line) == 1679315147


def test_signed_message_matches_the_spec_example_byte_for_byte() -> None:
    note = Note.parse(data("tlog-cosignature-example.note"))
    message = cosigned_message(note.text, 1679315147)
    assert message == data("tlog-cosignature-message-example.txt")


def test_transparency_dev_cosignature_timestamp() -> None:
    raw = base64.b64decode(data("transparency-dev-cosignature.sig"))
    sig = NoteSignature("w", raw[:4], raw[4:])
    assert cosignature_timestamp(sig) == 1727964367


def test_real_witness_vkey_derives_its_key_id_with_type_0x04() -> None:
    vkey = data("transparency-dev-cosignature.vkey").decode().strip()
    verifier = CosignatureVerifier.from_vkey(vkey)
    assert verifier.vkey() == vkey
    assert verifier.key_id.hex() == "da77ade7"
    assert key_id(verifier.name, COSIGNATURE_KEY_TYPE, verifier.public_key).hex() == "da77ade7"
    assert key_id(verifier.name, ED25519_KEY_TYPE, verifier.public_key).hex() != "da77ade7"


def test_tlog_witness_example_response_lines_are_not_valid_cosignatures() -> None:
    # The spec's example response is placeholder bytes: two of its three lines claim
    # timestamps above 2^63 - 1, which tlog-cosignature forbids.
    sigs = parse_signature_lines(data("tlog-witness-add-checkpoint-response.txt"))
    with pytest.raises(NoteFormatError, match="exceeds 2\\^63"):
        cosignature_timestamp(sigs[0])
    with pytest.raises(NoteFormatError, match="exceeds 2\\^63"):
        cosignature_timestamp(sigs[1])
    assert cosignature_timestamp(sigs[2]) <= MAX_TIMESTAMP


# --- signing and verifying ---


def test_cosignature_verifies_and_returns_its_timestamp() -> None:
    signer = witness()
    sig = signer.cosign(BODY, TS)
    assert sig.name == signer.name
    assert sig.key_id == signer.key_id
    assert sig.signature[:8] == TS.to_bytes(8, "big")
    assert signer.verifier().verify(BODY, sig) == TS


def test_cosignature_is_ed25519_over_the_spec_message() -> None:
    # Independent of cosigned_message(): the message written out from the spec text.
    signer = witness()
    sig = signer.cosign(BODY, TS)
    message = ("cosignature/v1\n" + f"time {TS}\n" + BODY).encode()
    Ed25519PublicKey.from_public_bytes(signer.public_key).verify(sig.signature[8:], message)


def test_vkey_is_type_0x04_and_round_trips() -> None:
    signer = witness()
    vkey = signer.vkey()
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    assert CosignatureVerifier.from_vkey(vkey) == signer.verifier()
    assert CosignatureSigner.from_skey(signer.skey()).vkey() == vkey


def test_cosigned_note_round_trips_through_the_witness_protocol() -> None:
    # tlog-witness: the client may concatenate the response to the checkpoint.
    log = NoteSigner.from_seed("example.com/log", seed("log"))
    note = sign_note(BODY, [log])
    response = witness().cosign(BODY, TS).line() + witness("w2.example").cosign(BODY, TS).line()
    cosigned = Note.parse(note.to_bytes() + response.encode())
    assert cosigned == note.with_signatures(parse_signature_lines(response.encode()))
    assert witness().verifier().verify(cosigned.text, cosigned.signatures[1]) == TS


def test_timestamp_zero_and_maximum_are_accepted() -> None:
    for ts in (0, MAX_TIMESTAMP):
        assert witness().verifier().verify(BODY, witness().cosign(BODY, ts)) == ts


# --- attacks and bad input ---


def test_altered_timestamp_fails() -> None:
    sig = witness().cosign(BODY, TS)
    altered = NoteSignature(sig.name, sig.key_id, (TS + 1).to_bytes(8, "big") + sig.signature[8:])
    assert witness().verifier().verify(BODY, altered) is None


def test_altered_checkpoint_fails() -> None:
    sig = witness().cosign(BODY, TS)
    other = Checkpoint("example.com/log", 8, hashlib.sha256(b"root").digest()).body()
    assert witness().verifier().verify(other, sig) is None


def test_extension_lines_are_covered_by_the_cosignature() -> None:
    extended = BODY + "extension\n"
    sig = witness().cosign(extended, TS)
    assert witness().verifier().verify(extended, sig) == TS
    assert witness().verifier().verify(BODY, sig) is None
    assert witness().verifier().verify(BODY + "extensioN\n", sig) is None


def test_cosignature_from_another_witness_is_not_this_witness() -> None:
    sig = witness("w2.example").cosign(BODY, TS)
    assert witness().verifier().verify(BODY, sig) is None


def test_renamed_line_is_not_accepted() -> None:
    sig = witness().cosign(BODY, TS)
    renamed = NoteSignature("witness.example/w9", sig.key_id, sig.signature)
    assert witness().verifier().verify(BODY, renamed) is None


def test_forged_key_id_is_not_accepted() -> None:
    sig = witness().cosign(BODY, TS)
    assert (
        witness().verifier().verify(BODY, NoteSignature(sig.name, bytes(4), sig.signature)) is None
    )


def test_note_signature_of_the_same_key_is_not_a_cosignature() -> None:
    # Same key and name, type 0x01: another key ID, and a signature over another message.
    plain = NoteSigner.from_seed("witness.example/w1", seed("witness.example/w1")).sign(BODY)
    assert plain.key_id != witness().key_id
    assert witness().verifier().verify(BODY, plain) is None
    forged = NoteSignature(plain.name, witness().key_id, TS.to_bytes(8, "big") + plain.signature)
    assert witness().verifier().verify(BODY, forged) is None


def test_cosignature_is_not_a_note_signature() -> None:
    sig = witness().cosign(BODY, TS)
    as_note_key = NoteVerifier(witness().name, witness().public_key)
    assert not as_note_key.verify(BODY, sig)


def test_truncated_cosignature_fails() -> None:
    sig = witness().cosign(BODY, TS)
    short = NoteSignature(sig.name, sig.key_id, sig.signature[:-1])
    assert witness().verifier().verify(BODY, short) is None
    with pytest.raises(NoteFormatError, match="wrong signature length"):
        cosignature_timestamp(short)


def test_timestamp_above_2_63_minus_1_fails() -> None:
    sig = witness().cosign(BODY, TS)
    huge = NoteSignature(sig.name, sig.key_id, (2**63).to_bytes(8, "big") + sig.signature[8:])
    assert witness().verifier().verify(BODY, huge) is None


@pytest.mark.parametrize("ts", [-1, 2**63, True])
def test_cosigning_with_out_of_range_timestamp_is_refused(ts: int) -> None:
    with pytest.raises(NoteFormatError, match="out of range"):
        witness().cosign(BODY, ts)


def test_cosigning_something_that_is_not_a_checkpoint_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="fewer than three lines"):
        witness().cosign("hello\n", TS)


def test_note_vkey_is_refused_as_a_witness_key() -> None:
    peter = data("go-peterneumann.vkey").decode().strip()
    with pytest.raises(KeyFormatError, match="type 0x04, not 0x01"):
        CosignatureVerifier.from_vkey(peter)


def test_note_skey_is_refused_as_a_witness_key() -> None:
    skey = data("go-peterneumann.skey").decode().strip()
    with pytest.raises(KeyFormatError, match="type 0x04"):
        CosignatureSigner.from_skey(skey)


@given(
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    ts=st.integers(min_value=0, max_value=MAX_TIMESTAMP),
)
def test_property_cosign_verify_round_trip(size: int, root: bytes, ts: int) -> None:
    body = Checkpoint("example.com/log", size, root).body()
    sig = NoteSignature.from_line(witness().cosign(body, ts).line())
    assert witness().verifier().verify(body, sig) == ts
