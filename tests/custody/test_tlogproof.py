"""C2SP tlog-proof: the spec example, round trips and one test per bad input."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.checkpoint import Checkpoint
from custody.cosignature import CosignatureSigner
from custody.errors import ProofFormatError
from custody.note import Note, NoteSigner, sign_note
from custody.tlogproof import MAX_PROOF_HASHES, TlogProof

DATA = Path(__file__).parent / "data" / "c2sp"
EXAMPLE = (DATA / "tlog-proof-example.tlog-proof").read_bytes()
HEADER = b"c2sp.org/tlog-proof@v1\n"


def seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


LOG = NoteSigner.from_seed("example.com/fancylog", seed("fancylog"))
CHECKPOINT_BODY = "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
CHECKPOINT = sign_note(CHECKPOINT_BODY, [LOG])
H = [hashlib.sha256(bytes([i])).digest() for i in range(5)]


def b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def proof(*header: bytes, checkpoint: bytes | None = None) -> bytes:
    note = CHECKPOINT.to_bytes() if checkpoint is None else checkpoint
    return HEADER + b"".join(line + b"\n" for line in header) + b"\n" + note


def example_with_real_signatures() -> bytes:
    """The spec example with its elided signature lines replaced by real ones over the
    same checkpoint body (the spec prints `hI2DJw[...]1roloI=`)."""
    head = EXAMPLE[: EXAMPLE.index(b"\n\nexample.com/fancylog\n") + 2]
    witnesses = [
        CosignatureSigner.from_seed(f"witness{i}.example", seed(str(i))) for i in (1, 2, 3)
    ]
    note = CHECKPOINT.with_signatures([w.cosign(CHECKPOINT_BODY, 1_700_000_000) for w in witnesses])
    return head + note.to_bytes()


# --- the spec example ---


def test_spec_example_as_printed_is_refused_for_its_elided_signatures() -> None:
    with pytest.raises(
        ProofFormatError, match=r"signature of 'example\.com/fancylog' is not valid"
    ):
        TlogProof.parse(EXAMPLE)


def test_spec_example_with_real_signatures_parses() -> None:
    parsed = TlogProof.parse(example_with_real_signatures())
    assert parsed.extra is not None
    assert parsed.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert parsed.index == 73894
    assert [base64.b64encode(h).decode() for h in parsed.hashes] == [
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=",
        "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=",
        "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=",
        "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=",
        "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=",
    ]
    assert parsed.tree_head.origin == "example.com/fancylog"
    assert parsed.tree_head.size == 109482
    assert [s.name for s in parsed.checkpoint.signatures] == [
        "example.com/fancylog",
        "witness1.example",
        "witness2.example",
        "witness3.example",
    ]


def test_spec_example_with_real_signatures_round_trips_byte_for_byte() -> None:
    raw = example_with_real_signatures()
    assert TlogProof.parse(raw).to_bytes() == raw


# --- round trips ---


def test_proof_without_extra_and_without_hashes() -> None:
    raw = proof(b"index 0")
    parsed = TlogProof.parse(raw)
    assert (parsed.index, parsed.hashes, parsed.extra) == (0, (), None)
    assert parsed.to_bytes() == raw


def test_constructed_proof_round_trips() -> None:
    made = TlogProof(5, tuple(H), CHECKPOINT, extra=b"\x00vrf")
    assert TlogProof.parse(made.to_bytes()) == made


# --- bad input ---


@pytest.mark.parametrize(
    "first", [b"c2sp.org/tlog-proof@v2", b"C2SP.org/tlog-proof@v1", b"", b"c2sp.org/tlog-proof@v1 "]
)
def test_wrong_header_is_refused(first: bytes) -> None:
    raw = first + b"\nindex 0\n\n" + CHECKPOINT.to_bytes()
    with pytest.raises(ProofFormatError, match="does not start with"):
        TlogProof.parse(raw)


def test_missing_index_is_refused() -> None:
    with pytest.raises(ProofFormatError, match="no `index` line"):
        TlogProof.parse(proof(b64(H[0])))


@pytest.mark.parametrize(
    "index", [b"01", b"-1", b"+1", b"", b" 1", b"1 ", b"0x1", b"18446744073709551616"]
)
def test_bad_index_is_refused(index: bytes) -> None:
    with pytest.raises(ProofFormatError, match="index is invalid"):
        TlogProof.parse(proof(b"index " + index))


def test_index_with_leading_zero_is_refused() -> None:
    with pytest.raises(ProofFormatError, match="leading zeros"):
        TlogProof.parse(proof(b"index 073894"))


def test_extra_after_index_is_refused() -> None:
    with pytest.raises(ProofFormatError, match="hash is not valid base64"):
        TlogProof.parse(proof(b"index 1", b"extra " + b64(b"x")))


def test_two_extra_lines_are_refused() -> None:
    with pytest.raises(ProofFormatError, match="no `index` line"):
        TlogProof.parse(proof(b"extra " + b64(b"x"), b"extra " + b64(b"y"), b"index 1"))


def test_empty_extra_is_refused() -> None:
    with pytest.raises(ProofFormatError, match="carries no data"):
        TlogProof.parse(proof(b"extra ", b"index 1"))


def test_extra_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ProofFormatError, match="extra data is not valid base64"):
        TlogProof.parse(proof(b"extra not base64!", b"index 1"))


def test_hash_of_31_bytes_is_refused() -> None:
    with pytest.raises(ProofFormatError, match="31 bytes, not 32"):
        TlogProof.parse(proof(b"index 1", b64(H[0][:31])))


def test_non_canonical_hash_is_refused() -> None:
    good = b64(H[0])  # 32 bytes: the character before "=" carries two padding bits
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert good.endswith(b"=")
    assert alphabet.index(good[-2]) % 4 == 0
    flipped = good[:-2] + bytes([alphabet[alphabet.index(good[-2]) + 1]]) + b"="
    with pytest.raises(ProofFormatError, match="non-canonical"):
        TlogProof.parse(proof(b"index 1", flipped))


def test_too_many_hashes_are_refused() -> None:
    hashes = [b64(H[0])] * (MAX_PROOF_HASHES + 1)
    with pytest.raises(ProofFormatError, match=f"more than {MAX_PROOF_HASHES} hashes"):
        TlogProof.parse(proof(b"index 1", *hashes))


def test_max_hashes_are_accepted() -> None:
    hashes = [b64(H[0])] * MAX_PROOF_HASHES
    assert len(TlogProof.parse(proof(b"index 1", *hashes)).hashes) == MAX_PROOF_HASHES


def test_missing_blank_line_before_checkpoint_is_refused() -> None:
    raw = HEADER + b"index 1\n" + CHECKPOINT.to_bytes()
    with pytest.raises(ProofFormatError, match="hash"):
        TlogProof.parse(raw)


def test_truncated_proof_is_refused() -> None:
    with pytest.raises(ProofFormatError, match="ends before its checkpoint"):
        TlogProof.parse(HEADER + b"index 1\n" + b64(H[0]))


def test_missing_checkpoint_is_refused() -> None:
    with pytest.raises(ProofFormatError, match="not a valid signed note"):
        TlogProof.parse(HEADER + b"index 1\n\n")


def test_checkpoint_that_is_not_a_tlog_checkpoint_is_refused() -> None:
    note = sign_note("just a note\n", [LOG]).to_bytes()
    with pytest.raises(ProofFormatError, match="not a tlog-checkpoint"):
        TlogProof.parse(proof(b"index 1", checkpoint=note))


def test_tampered_checkpoint_framing_is_refused() -> None:
    broken = CHECKPOINT.to_bytes().replace("\u2014".encode(), b"-")
    with pytest.raises(ProofFormatError, match="not a valid signed note"):
        TlogProof.parse(proof(b"index 1", checkpoint=broken))


def test_non_ascii_header_is_refused() -> None:
    with pytest.raises(ProofFormatError, match="not ASCII"):
        TlogProof.parse(proof("index 1\u00a0".encode()))


def test_crlf_header_is_refused() -> None:
    raw = HEADER.replace(b"\n", b"\r\n") + b"index 1\n\n" + CHECKPOINT.to_bytes()
    with pytest.raises(ProofFormatError, match="control character"):
        TlogProof.parse(raw)


def test_constructor_refuses_malformed_fields() -> None:
    with pytest.raises(ProofFormatError, match="out of range"):
        TlogProof(-1, (), CHECKPOINT)
    with pytest.raises(ProofFormatError, match="not 32"):
        TlogProof(1, (b"short",), CHECKPOINT)
    with pytest.raises(ProofFormatError, match="empty extra"):
        TlogProof(1, (), CHECKPOINT, extra=b"")
    with pytest.raises(ProofFormatError, match="not a tlog-checkpoint"):
        TlogProof(1, (), sign_note("x\n", [LOG]))


@given(
    index=st.integers(min_value=0, max_value=2**64 - 1),
    hashes=st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_HASHES),
    extra=st.none() | st.binary(min_size=1, max_size=64),
    size=st.integers(min_value=0, max_value=2**64 - 1),
)
def test_property_proof_round_trips(
    index: int, hashes: list[bytes], extra: bytes | None, size: int
) -> None:
    body = Checkpoint("example.com/log", size, hashlib.sha256(b"r").digest()).body()
    note = Note(body, (LOG.sign(body),))
    made = TlogProof(index, tuple(hashes), note, extra)
    assert TlogProof.parse(made.to_bytes()) == made
