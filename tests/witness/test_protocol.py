"""The add-checkpoint wire format, both sides (the case server's HTTP call is tested in
tests/server/test_witness_client.py)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.cosignature import CosignatureSigner
from custody.note import Note
from tests.witness.helpers import NOW, CaseLog, witness_signer
from witness.errors import (
    BadProofError,
    MalformedRequestError,
    RequestTooLargeError,
    SizeConflictError,
    SplitViewError,
    UnknownOriginError,
    UntrustedCheckpointError,
    WitnessError,
    WitnessResponseError,
)
from witness.protocol import (
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    build_add_checkpoint_body,
    cosignature_from_response,
    parse_cosignature_response,
    parse_size_response,
)

SPEC_EXAMPLE_PROOF = (
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
)


# --- request bodies ---


def test_request_body_layout_follows_the_spec() -> None:
    log = CaseLog().grow_to(13)
    body = build_add_checkpoint_body(5, log.proof(5), log.note())
    lines = body.split(b"\n")
    assert lines[0] == b"old 5"
    proof_lines = lines[1 : 1 + len(log.proof(5))]
    assert [base64.b64decode(line) for line in proof_lines] == log.proof(5)
    assert lines[1 + len(proof_lines)] == b""
    assert body.split(b"\n\n", 1)[1] == log.note()


def test_spec_example_proof_lines_parse() -> None:
    log = CaseLog().grow_to(3)
    body = b"old 2\n" + SPEC_EXAMPLE_PROOF.encode() + b"\n" + log.note()
    request = AddCheckpointRequest.parse(body)
    assert request.old_size == 2
    assert len(request.proof) == 4
    assert request.to_bytes() == body


@given(old=st.integers(0, 64), extra=st.integers(0, 64))
def test_request_round_trips(old: int, extra: int) -> None:
    log = CaseLog().grow_to(old + extra)
    body = build_add_checkpoint_body(old, log.proof(old), log.note())
    request = AddCheckpointRequest.parse(body)
    assert request.to_bytes() == body
    assert (request.old_size, list(request.proof)) == (old, log.proof(old))
    assert request.checkpoint.size == old + extra


def test_builder_refuses_what_a_witness_would_refuse() -> None:
    log = CaseLog().grow_to(4)
    with pytest.raises(MalformedRequestError, match="larger than the checkpoint"):
        build_add_checkpoint_body(5, [], log.note())
    with pytest.raises(MalformedRequestError, match="not a signed note"):
        build_add_checkpoint_body(0, [], b"no note")
    with pytest.raises(MalformedRequestError, match="not 32"):
        build_add_checkpoint_body(2, [b"short"], log.note())
    with pytest.raises(MalformedRequestError, match="at most 63"):
        build_add_checkpoint_body(2, [b"x" * 32] * 64, log.note())


def test_builder_accepts_a_parsed_note() -> None:
    log = CaseLog().grow_to(4)
    assert build_add_checkpoint_body(0, [], Note.parse(log.note())) == log.request(0)


# --- responses ---


@pytest.mark.parametrize("body", [b"10\n", b"0\n", b"18446744073709551615\n"])
def test_size_response_parses(body: bytes) -> None:
    assert parse_size_response(body) == int(body)


@pytest.mark.parametrize(
    "body", [b"10", b"010\n", b"-1\n", b" 1\n", b"1\n\n", b"", b"18446744073709551616\n"]
)
def test_malformed_size_response_is_refused(body: bytes) -> None:
    with pytest.raises(WitnessResponseError):
        parse_size_response(body)


def test_cosignature_response_ignores_unknown_witnesses() -> None:
    log = CaseLog().grow_to(4)
    mine = witness_signer()
    other = CosignatureSigner.generate("DE-1")
    body = (other.cosign(log.body(), NOW).line() + mine.cosign(log.body(), NOW).line()).encode()
    sig = parse_cosignature_response(body, checkpoint_body=log.body(), witness=mine.verifier())
    assert sig.name == "NL-1"


def test_cosignature_response_without_a_valid_line_is_refused() -> None:
    log = CaseLog().grow_to(4)
    mine = witness_signer()
    wrong_body = mine.cosign(CaseLog().grow_to(5).body(), NOW).line().encode()
    with pytest.raises(WitnessResponseError, match="no valid cosignature"):
        parse_cosignature_response(wrong_body, checkpoint_body=log.body(), witness=mine.verifier())
    with pytest.raises(WitnessResponseError, match="malformed"):
        parse_cosignature_response(b"ok\n", checkpoint_body=log.body(), witness=mine.verifier())


@pytest.mark.parametrize(
    ("status", "content_type", "body", "error"),
    [
        (409, SIZE_CONTENT_TYPE, b"12\n", SizeConflictError),
        (409, "text/plain; charset=utf-8", b"two roots\n", SplitViewError),
        (409, "text/x.tlog.size; charset=utf-8", b"12\n", SizeConflictError),
        (409, SIZE_CONTENT_TYPE, b"twelve\n", WitnessResponseError),
        (422, "text/plain", b"bad proof\n", BadProofError),
        (404, "text/plain", b"", UnknownOriginError),
        (403, "text/plain", b"", UntrustedCheckpointError),
        (400, "text/plain", b"", MalformedRequestError),
        (413, "text/plain", b"", RequestTooLargeError),
        (500, "text/plain", b"", WitnessResponseError),
        (302, None, b"", WitnessResponseError),
    ],
)
def test_error_statuses_raise_the_witness_errors(
    status: int, content_type: str | None, body: bytes, error: type[WitnessError]
) -> None:
    log = CaseLog().grow_to(4)
    with pytest.raises(error) as caught:
        cosignature_from_response(
            status,
            content_type,
            body,
            checkpoint_body=log.body(),
            witness=witness_signer().verifier(),
        )
    if isinstance(caught.value, SizeConflictError):
        assert caught.value.latest_size == 12
