"""The one place where errors become HTTP responses: `{"error": {"code", "message"}}`.

Server errors keep their own code; custody library errors are mapped by class; the
evidence store's errors that a client can cause (and the store being down) get their code
and message here, since evidence/ knows no HTTP; anything unexpected is a 500 with no
detail (the traceback goes to the server log only).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from custody.errors import CustodyError, FormatError
from evidence.errors import (
    EvidenceError,
    ObjectExistsError,
    OffsetMismatchError,
    StorageUnavailableError,
    TooLargeError,
    UploadCorruptError,
    UploadIncompleteError,
    UploadLockedError,
    UploadNotFoundError,
)
from server.api.responses import json_response
from server.errors import (
    AuthenticationError,
    BusyError,
    ConflictError,
    InsufficientStorageError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RangeNotSatisfiableError,
    RequestTimeoutError,
    SchemaOutOfDateError,
    ServerError,
    StorageError,
    UnprocessableContentError,
    UnsupportedMediaTypeError,
)

log = logging.getLogger("jitc.server")
security_log = logging.getLogger("jitc.security")  # the same logger as server.auth

Describe = Callable[[Any], tuple[str, str]]
"""An error's code and message, for errors that carry none of their own."""

# Most specific first: the first class the error is an instance of decides. A row with a
# Describe is an error of another package; the others carry their own code and message.
_ANSWERS: Final[tuple[tuple[type[Exception], int, Describe | None], ...]] = (
    (AuthenticationError, 401, None),
    (PermissionDeniedError, 403, None),
    (NotFoundError, 404, None),
    (ConflictError, 409, None),
    (PayloadTooLargeError, 413, None),
    (RequestTimeoutError, 408, None),
    (RangeNotSatisfiableError, 416, None),
    (UnprocessableContentError, 422, None),
    (StorageError, 503, None),
    (BusyError, 503, None),
    (InsufficientStorageError, 507, None),
    (UnsupportedMediaTypeError, 415, None),
    (InvalidRequestError, 400, None),
    (SchemaOutOfDateError, 503, None),
    (ServerError, 500, None),
    # input that cannot form a custody entry (e.g. a float in data)
    (FormatError, 422, lambda e: ("invalid_entry", str(e))),
    (CustodyError, 500, lambda e: ("custody_error", "the custody library refused the operation")),
    # The evidence store's errors a client's upload or download can cause; the store down.
    (
        TooLargeError,
        413,
        lambda e: ("content_too_large", f"the content is larger than {e.limit} bytes"),
    ),
    (
        OffsetMismatchError,
        409,
        lambda e: ("offset_mismatch", f"the upload holds {e.expected} bytes, not {e.got}"),
    ),
    (
        UploadLockedError,
        409,
        lambda e: ("upload_locked", "another request is writing to this upload"),
    ),
    (
        UploadNotFoundError,
        404,
        lambda e: ("not_found", "no such upload (finished, terminated or expired)"),
    ),
    (UploadIncompleteError, 409, lambda e: ("upload_incomplete", str(e))),
    # The staged bytes changed underneath the store: nothing the client can resend fixes
    # it, and an operator must look (a 5xx is logged with its traceback).
    (
        UploadCorruptError,
        500,
        lambda e: (
            "upload_corrupt",
            "the upload's stored bytes are damaged; terminate it and upload again",
        ),
    ),
    (ObjectExistsError, 409, lambda e: ("content_exists", "the exhibit already has content")),
    (
        StorageUnavailableError,
        503,
        lambda e: ("storage_unavailable", "the evidence store is unavailable"),
    ),
)

_HTTP_CODES: Final = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str, **headers: str) -> Response:
    return json_response(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _answer(error: Exception) -> tuple[int, Describe | None] | None:
    for cls, status, describe in _ANSWERS:
        if isinstance(error, cls):
            return status, describe
    return None


def status_for(error: Exception) -> int:
    answer = _answer(error)
    return 500 if answer is None else answer[0]


async def handle_server_error(request: Request, exc: Exception) -> Response:
    answer = _answer(exc)
    if answer is None:  # e.g. an evidence error no client can cause: a bug of ours
        return await handle_unexpected(request, exc)
    status, describe = answer
    if isinstance(exc, PermissionDeniedError):
        log_permission_refusal(request, exc)
    if describe is not None:
        code, message = describe(exc)
    else:
        assert isinstance(exc, ServerError)
        code, message = exc.code, exc.message
    if isinstance(exc, BusyError | InsufficientStorageError):
        log.warning("request refused for load: %s", exc.message)  # expected, no traceback
    elif status >= 500:
        log.error("request failed: %s", exc, exc_info=exc)
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}
    if isinstance(exc, RangeNotSatisfiableError):  # RFC 9110 14.4
        headers["Content-Range"] = f"bytes */{exc.size}"
    if isinstance(exc, BusyError):  # RFC 9110 10.2.3
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, RequestTimeoutError):  # RFC 9110 15.5.9: the rest is not read
        headers["Connection"] = "close"
    return error_response(status, code, message, **headers)


def log_permission_refusal(request: Request, exc: PermissionDeniedError) -> None:
    """Every 403 goes to the security log (never to a custody log): who, what, where."""
    who = exc.who or ("", "", "", "")
    record = {
        "event": "permission_refused",
        "reason": exc.code,
        "action": exc.action,
        "jurisdiction": who[0],
        "sub": who[1],
        "role": who[2],
        "jti": who[3],
        "method": request.method,
        "path": request.url.path,
        "remote": request.client.host if request.client else None,
    }
    security_log.warning(json.dumps(record, sort_keys=True))


async def handle_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    return error_response(exc.status_code, code, str(exc.detail), **headers)


async def handle_client_gone(_request: Request, _exc: Exception) -> Response:
    """The client closed the connection before its body was whole: nobody reads an
    answer, and it is no fault of ours (no 500, no traceback in the log)."""
    log.info("client went away before sending its whole body")
    return Response(status_code=400)


async def handle_unexpected(_request: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


EXCEPTION_HANDLERS: Final = {
    ServerError: handle_server_error,
    CustodyError: handle_server_error,
    EvidenceError: handle_server_error,
    HTTPException: handle_http_exception,
    ClientDisconnect: handle_client_gone,
    Exception: handle_unexpected,
}
