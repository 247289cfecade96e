"""POST /add-checkpoint (c2sp.org/tlog-witness): cosign, and every refusal, by attack."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from custody.checkpoint import Checkpoint
from custody.cosignature import CosignatureVerifier
from custody.merkle import EMPTY_ROOT
from custody.note import Note, NoteSignature, NoteSigner, key_id, parse_signature_lines, sign_note
from tests.witness.helpers import (
    CASE_A,
    CASE_B,
    LOG_NAME,
    LOG_SEED,
    NOW,
    CaseLog,
    Harness,
    harness,
    log_key,
)
from witness.protocol import MAX_REQUEST_BYTES, SIZE_CONTENT_TYPE


def cosign(wit: Harness, log: CaseLog, old_size: int, size: int | None = None) -> int:
    """Submit a correct request; return the verified cosignature's timestamp."""
    status, _, body = wit.post(log.request(old_size, size))
    assert status == 200, body
    (line,) = parse_signature_lines(body)
    timestamp = wit.verifier.verify(log.body(size), line)
    assert timestamp is not None
    return timestamp


def assert_size_conflict(response: tuple[int, str | None, bytes], size: int) -> None:
    status, content_type, body = response
    assert status == 409
    assert content_type == SIZE_CONTENT_TYPE  # exactly, no charset
    assert body == f"{size}\n".encode()


# --- cosigning ---


def test_first_checkpoint_with_old_size_0_is_cosigned(wit: Harness, log: CaseLog) -> None:
    status, content_type, body = wit.post(log.request(0))
    assert status == 200
    assert content_type is not None
    assert content_type.startswith("text/plain")
    (line,) = parse_signature_lines(body)
    assert line.name == "NL-1"
    # tlog-cosignature: the cosignature verifies over the checkpoint body, at the time
    # the witness's clock gave.
    assert CosignatureVerifier.from_vkey(wit.verifier.vkey()).verify(log.body(), line) == NOW
    recorded = wit.recorded(log.origin)
    assert recorded is not None
    assert (recorded.size, recorded.root_hash) == (10, log.tree.root())


def test_state_holds_the_log_signature_and_the_cosignature(wit: Harness, log: CaseLog) -> None:
    cosign(wit, log, 0)
    recorded = wit.recorded(log.origin)
    assert recorded is not None
    note = recorded.note
    assert log.signer.verifier().verify(note.text, note.signatures[0])
    assert wit.verifier.verify(note.text, note.signatures[1]) == NOW


@pytest.mark.parametrize(
    ("old", "new"), [(1, 2), (1, 8), (4, 5), (5, 8), (7, 16), (8, 9), (10, 23), (16, 17)]
)
def test_growth_with_a_valid_consistency_proof_is_cosigned(
    tmp_path: Path, old: int, new: int
) -> None:
    log = CaseLog().grow_to(new)
    with harness(tmp_path) as wit:
        cosign(wit, log, 0, old)
        cosign(wit, log, old, new)
        recorded = wit.recorded(log.origin)
        assert recorded is not None
        assert (recorded.size, recorded.root_hash) == (new, log.tree.root(new))


def test_a_log_grows_step_by_step(wit: Harness) -> None:
    log = CaseLog()
    previous = 0
    for size in (1, 2, 3, 4, 7, 8, 9, 31, 32, 33, 100):
        log.grow_to(size)
        cosign(wit, log, previous)
        previous = size


def test_the_same_checkpoint_again_is_cosigned_again(wit: Harness, log: CaseLog) -> None:
    cosign(wit, log, 0)
    before = wit.state_bytes(log.origin)
    assert cosign(wit, log, 10) == NOW
    assert wit.state_bytes(log.origin) == before


def test_each_case_is_followed_on_its_own(wit: Harness) -> None:
    case_a = CaseLog(CASE_A).grow_to(10)
    case_b = CaseLog(CASE_B).grow_to(3)
    cosign(wit, case_a, 0)
    cosign(wit, case_b, 0)
    case_b.grow_to(12)
    cosign(wit, case_b, 3)
    assert_size_conflict(wit.post(case_a.request(3)), 10)


def test_signatures_of_unknown_keys_are_ignored(wit: Harness, log: CaseLog) -> None:
    other = NoteSigner.generate("someone.else")
    note = sign_note(log.body(), [other, log.signer]).to_bytes()
    status, _, _ = wit.post(log.raw_request(0, [], note))
    assert status == 200


def test_a_log_key_is_trusted_for_every_case_of_its_log_name(
    tmp_path: Path,
) -> None:
    second_key = log_key(bytes([9]) * 32, "jitc.other")
    with harness(tmp_path, log_keys=[log_key(), second_key]) as wit:
        cosign(wit, CaseLog(CASE_A).grow_to(2), 0)
        cosign(wit, CaseLog(CASE_B, seed=bytes([9]) * 32, log_name="jitc.other").grow_to(2), 0)


def test_an_empty_tree_checkpoint_is_cosigned(wit: Harness) -> None:
    log = CaseLog()
    cosign(wit, log, 0)
    log.grow_to(4)
    cosign(wit, log, 0)


# --- rollback and stale old sizes: 409 text/x.tlog.size ---


def test_rollback_to_a_smaller_checkpoint_gets_409_and_state_is_unchanged(
    wit: Harness, log: CaseLog
) -> None:
    cosign(wit, log, 0)
    before = wit.state_bytes(log.origin)
    # A checkpoint of 6 leaves, presented as the extension of 6 (or of nothing).
    assert_size_conflict(wit.post(log.request(6, 6)), 10)
    assert_size_conflict(wit.post(log.request(0, 6)), 10)
    assert_size_conflict(wit.post(log.request(3, 6)), 10)
    assert wit.state_bytes(log.origin) == before


def test_wrong_old_size_gets_409_with_the_latest_cosigned_size(wit: Harness, log: CaseLog) -> None:
    cosign(wit, log, 0)
    log.grow_to(20)
    assert_size_conflict(wit.post(log.request(7)), 10)
    assert_size_conflict(wit.post(log.request(11, 15)), 10)


def test_old_size_0_learns_the_latest_cosigned_size(wit: Harness, log: CaseLog) -> None:
    # tlog-witness: a client without information MAY send old size 0 to obtain it.
    cosign(wit, log, 0)
    log.grow_to(12)
    assert_size_conflict(wit.post(log.request(0)), 10)
    cosign(wit, log, 10)


def test_old_size_for_a_never_cosigned_origin_must_be_0(wit: Harness, log: CaseLog) -> None:
    assert_size_conflict(wit.post(log.request(4)), 0)
    assert wit.recorded(log.origin) is None


def test_old_size_above_the_checkpoint_size_is_400(wit: Harness, log: CaseLog) -> None:
    cosign(wit, log, 0)
    before = wit.state_bytes(log.origin)
    # tlog-witness: "The old size MUST be equal to or lower than the checkpoint size.
    # Otherwise ... 400 Bad Request" (before the 409 check).
    status, _, _ = wit.post(log.raw_request(10, [], log.note(6)))
    assert status == 400
    assert wit.state_bytes(log.origin) == before


# --- split views ---


def test_split_view_same_size_different_root_gets_422_and_is_kept(
    wit: Harness, log: CaseLog
) -> None:
    # tlog-witness (C2SP, 2026-07-06): same size, different root -> "422 Unprocessable
    # Entity" (the text said 409 before; a peer implementation in Go answers 422).
    cosign(wit, log, 0)
    before = wit.state_bytes(log.origin)
    fork = CaseLog(branch="fork", fork_at=6).grow_to(10)
    assert fork.tree.root() != log.tree.root()
    status, content_type, body = wit.post(fork.request(10))
    assert status == 422
    # Not text/x.tlog.size: the old size was right, a client must not simply retry.
    assert content_type is not None
    assert content_type.startswith("text/plain")
    assert b"two roots" in body
    assert wit.state_bytes(log.origin) == before
    # tlog-witness: the witness MAY keep the request as proof of log misbehaviour.
    (kept,) = wit.state.evidence_files()
    assert kept.read_bytes() == fork.request(10)


def test_split_view_larger_inconsistent_checkpoint_gets_422(wit: Harness, log: CaseLog) -> None:
    cosign(wit, log, 0)
    before = wit.state_bytes(log.origin)
    # The fork's own proof from 10 to 15, valid in the fork, not from the cosigned root.
    fork = CaseLog(branch="fork", fork_at=6).grow_to(15)
    status, _, body = wit.post(fork.request(10))
    assert status == 422, body
    assert wit.state_bytes(log.origin) == before
    assert len(wit.state.evidence_files()) == 1
    # The honest extension still works afterwards.
    log.grow_to(15)
    cosign(wit, log, 10)


def test_split_view_after_a_fork_before_the_cosigned_size_gets_422(
    wit: Harness, log: CaseLog
) -> None:
    cosign(wit, log, 0)
    fork = CaseLog(branch="fork", fork_at=2).grow_to(40)
    status, _, _ = wit.post(fork.request(10))
    assert status == 422


# --- bad proofs: 422 ---


@pytest.mark.parametrize("how", ["flip", "drop", "extra", "empty", "reorder"])
def test_bad_consistency_proof_gets_422(wit: Harness, log: CaseLog, how: str) -> None:
    cosign(wit, log, 0)
    before = wit.state_bytes(log.origin)
    log.grow_to(27)
    proof = log.proof(10)
    if how == "flip":
        proof[1] = bytes([proof[1][0] ^ 1]) + proof[1][1:]
    elif how == "drop":
        proof = proof[:-1]
    elif how == "extra":
        proof = [*proof, hashlib.sha256(b"x").digest()]
    elif how == "empty":
        proof = []
    else:
        proof = proof[::-1]
    status, _, _ = wit.post(log.raw_request(10, proof, log.note()))
    assert status == 422
    assert wit.state_bytes(log.origin) == before


def test_proof_with_old_size_0_gets_422(wit: Harness, log: CaseLog) -> None:
    # tlog-witness: "The proof MUST be empty if the old size is zero."
    status, _, _ = wit.post(log.raw_request(0, [hashlib.sha256(b"x").digest()], log.note()))
    assert status == 422
    assert wit.recorded(log.origin) is None


def test_proof_between_equal_sizes_must_be_empty(wit: Harness, log: CaseLog) -> None:
    cosign(wit, log, 0)
    status, _, _ = wit.post(log.raw_request(10, [hashlib.sha256(b"x").digest()], log.note()))
    assert status == 422


def test_size_0_checkpoint_with_a_non_empty_root_gets_422(wit: Harness) -> None:
    log = CaseLog()
    body = Checkpoint(log.origin, 0, hashlib.sha256(b"not empty").digest()).body()
    assert hashlib.sha256(b"not empty").digest() != EMPTY_ROOT
    status, _, _ = wit.post(log.raw_request(0, [], sign_note(body, [log.signer]).to_bytes()))
    assert status == 422


# --- who signed: 403 ---


def test_checkpoint_signed_by_an_unknown_log_key_gets_403(wit: Harness) -> None:
    impostor = CaseLog(seed=bytes([1]) * 32).grow_to(5)
    status, _, _ = wit.post(impostor.request(0))
    assert status == 403
    assert wit.recorded(impostor.origin) is None


def test_forged_signature_of_the_trusted_key_gets_403(wit: Harness, log: CaseLog) -> None:
    note = Note.parse(log.note())
    sig = note.signatures[0]
    forged = NoteSignature(sig.name, sig.key_id, bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    other = NoteSigner.generate("someone.else").sign(note.text)
    status, _, _ = wit.post(log.raw_request(0, [], Note(note.text, (other, forged)).to_bytes()))
    assert status == 403


def test_log_signature_under_the_log_name_is_not_a_case_signature(
    wit: Harness, log: CaseLog
) -> None:
    # custody-log-v1 §4: checkpoints are signed under the origin, not the log name.
    note = sign_note(log.body(), [NoteSigner.from_seed(LOG_NAME, LOG_SEED)]).to_bytes()
    status, _, _ = wit.post(log.raw_request(0, [], note))
    assert status == 403


def test_another_cases_signature_renamed_does_not_verify(wit: Harness) -> None:
    # Ed25519 note signatures do not commit to the key name: rename case A's line to
    # case B's key. It still fails, because it signs case A's text.
    case_a = CaseLog(CASE_A).grow_to(5)
    case_b = CaseLog(CASE_B).grow_to(5)
    sig_a = Note.parse(case_a.note()).signatures[0]
    public = case_b.signer.public_key
    renamed = NoteSignature(case_b.origin, key_id(case_b.origin, 0x01, public), sig_a.signature)
    note = Note(case_b.body(), (renamed,)).to_bytes()
    status, _, _ = wit.post(case_b.raw_request(0, [], note))
    assert status == 403


# --- which logs: 404 ---


@pytest.mark.parametrize(
    "origin",
    [
        f"jitc.elsewhere/case/{CASE_A}",
        f"{LOG_NAME}/case/{CASE_A.upper()}",
        f"{LOG_NAME}/case/{CASE_A.replace('-', '')}",
        f"{LOG_NAME}/case/{{{CASE_A}}}",
        f"{LOG_NAME}/case/{CASE_A}/x",
        f"{LOG_NAME}/case/",
        f"{LOG_NAME}/cases/{CASE_A}",
        LOG_NAME,
        f"x{LOG_NAME}/case/{CASE_A}",
    ],
)
def test_origin_that_is_not_a_case_of_a_known_log_gets_404(wit: Harness, origin: str) -> None:
    # Signed by the real key under that origin: only the origin is wrong.
    signer = NoteSigner.from_seed(origin, LOG_SEED)
    body = Checkpoint(origin, 0, EMPTY_ROOT).body()
    note = sign_note(body, [signer]).to_bytes()
    status, _, _ = wit.post(b"old 0\n\n" + note)
    assert status == 404


# --- malformed requests: 400, 413 ---


@pytest.mark.parametrize(
    "make",
    [
        lambda note: b"",
        lambda note: b"\n" + note,
        lambda note: b"old\n\n" + note,
        lambda note: b"old 01\n\n" + note,
        lambda note: b"old -1\n\n" + note,
        lambda note: b"old +1\n\n" + note,
        lambda note: b"old  1\n\n" + note,
        lambda note: b"OLD 0\n\n" + note,
        lambda note: b"old 0\r\n\r\n" + note,
        lambda note: b"old 99999999999999999999999\n\n" + note,
        lambda note: b"old 0\n" + note,  # no empty line before the checkpoint
        lambda note: b"old 0",
        lambda note: b"old 1\nnot base64!\n\n" + note,
        lambda note: b"old 1\n" + base64.b64encode(b"x" * 31) + b"\n\n" + note,
        lambda note: b"old 1\n" + base64.b64encode(b"x" * 32)[:-1] + b"\n\n" + note,
        lambda note: b"old 1\n" + (base64.b64encode(b"x" * 32) + b"\n") * 64 + b"\n" + note,
        lambda note: b"old 0\n\n" + note.split(b"\n\n")[0] + b"\n",  # no signatures
        lambda note: b"old 0\n\n" + note.replace(b"\n\n", b"\nextension line\n\n"),
        lambda note: b"old 0\n\n" + note.replace(b"10\n", b"ten\n", 1),
        lambda note: b"old 0\n\n\xff" + note,
        lambda note: b"old 0\n\n" + note + b"trailing",
    ],
)
def test_malformed_request_gets_400(
    wit: Harness, log: CaseLog, make: Callable[[bytes], bytes]
) -> None:
    status, _, _ = wit.post(make(log.note()))
    assert status == 400


def test_63_proof_lines_are_allowed(wit: Harness, log: CaseLog) -> None:
    # Parses (at most 63 lines), then fails as a proof.
    cosign(wit, log, 0)
    status, _, _ = wit.post(log.raw_request(10, [b"x" * 32] * 63, log.note()))
    assert status == 422


def test_request_over_the_size_limit_gets_413(wit: Harness, log: CaseLog) -> None:
    status, _, _ = wit.post(b"old 0\n\n" + log.note() + b"x" * MAX_REQUEST_BYTES)
    assert status == 413


def test_streamed_request_over_the_size_limit_gets_413(wit: Harness) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_REQUEST_BYTES // 1024 + 2):
            yield b"x" * 1024

    response = wit.client.post("/add-checkpoint", content=chunks())
    assert response.status_code == 413


def test_add_checkpoint_is_post_only(wit: Harness) -> None:
    assert wit.client.get("/add-checkpoint").status_code == 405


def test_info_names_the_witness(wit: Harness) -> None:
    response = wit.client.get("/")
    assert response.status_code == 200
    info = response.json()
    assert info["name"] == "NL-1"
    assert info["vkey"] == wit.verifier.vkey()
    assert info["logs"] == [log_key().vkey()]


# --- the monitoring endpoint: GET <prefix>/<hex sha256(origin)>/checkpoint ---


def _origin_hash(origin: str) -> str:
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def test_monitoring_endpoint_serves_the_latest_cosigned_checkpoint(
    wit: Harness, log: CaseLog
) -> None:
    path = f"/{_origin_hash(log.origin)}/checkpoint"
    assert wit.client.get(path).status_code == 404  # never cosigned: 404, as the text says
    cosign(wit, log, 0)
    log.grow_to(15)
    cosign(wit, log, 10)
    response = wit.client.get(path)
    assert response.status_code == 200
    served = Note.parse(response.content)
    assert served.text == log.body(15)
    # It carries the log's signature the witness verified and the witness's cosignature.
    assert [sig for sig in served.signatures if log.signer.verifier().verify(served.text, sig)]
    cosigned = [sig for sig in served.signatures if wit.verifier.verify(served.text, sig)]
    assert len(cosigned) == 1


@pytest.mark.parametrize(
    "origin_hash", ["0" * 64, "A" * 64, "../checkpoints", "abc", "0" * 63 + "g"]
)
def test_monitoring_endpoint_404s_for_unknown_or_malformed_origin_hashes(
    wit: Harness, log: CaseLog, origin_hash: str
) -> None:
    cosign(wit, log, 0)
    response = wit.client.get(f"/{origin_hash}/checkpoint")
    assert response.status_code == 404
