"""server/api/errors.py answers the evidence store's errors as it answers the server's:
one table, one JSON shape; an evidence error no client can cause is a 500 with no detail."""

from __future__ import annotations

import uuid

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evidence import (
    EvidenceError,
    InvalidKeyError,
    ObjectExistsError,
    OffsetMismatchError,
    StorageUnavailableError,
    TooLargeError,
    UploadIncompleteError,
    UploadLockedError,
    UploadNotFoundError,
    exhibit_key,
)
from server.api.errors import EXCEPTION_HANDLERS
from tests.server.testclient import TestClient

UPLOAD = uuid.UUID(int=7)
KEY = exhibit_key(str(uuid.UUID(int=1)), str(uuid.UUID(int=2)))


def _answer(error: Exception) -> tuple[int, dict[str, str]]:
    async def fail(_request: Request) -> Response:
        raise error

    app = Starlette(routes=[Route("/", fail)], exception_handlers=dict(EXCEPTION_HANDLERS))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/")
    return response.status_code, response.json()["error"]


@pytest.mark.parametrize(
    ("error", "status", "code", "message"),
    [
        (TooLargeError(100), 413, "content_too_large", "the content is larger than 100 bytes"),
        (
            OffsetMismatchError(UPLOAD, expected=5, got=3),
            409,
            "offset_mismatch",
            "the upload holds 5 bytes, not 3",
        ),
        (UploadLockedError(UPLOAD), 409, "upload_locked", "another request is writing"),
        (UploadNotFoundError(UPLOAD), 404, "not_found", "no such upload"),
        (UploadIncompleteError(UPLOAD, offset=1, length=2), 409, "upload_incomplete", "1 of 2"),
        (ObjectExistsError(KEY), 409, "content_exists", "the exhibit already has content"),
        (StorageUnavailableError("down"), 503, "storage_unavailable", "is unavailable"),
    ],
)
def test_evidence_errors_a_client_can_cause_get_their_code(
    error: EvidenceError, status: int, code: str, message: str
) -> None:
    answered, body = _answer(error)
    assert answered == status
    assert body["code"] == code
    assert message in body["message"]


def test_any_other_evidence_error_is_a_500_that_tells_nothing() -> None:
    answered, body = _answer(InvalidKeyError("../etc/passwd is not a key"))
    assert answered == 500
    assert body == {"code": "internal_error", "message": "internal server error"}
