"""The one place where errors become HTTP responses: `{"error": {"code", "message"}}`.

Server errors keep their own code; custody library errors are mapped by class; anything
unexpected is a 500 with no detail (the traceback goes to the server log only).
"""

from __future__ import annotations

import json
import logging
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from custody.errors import CustodyError, FormatError
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
    RangeNotSatisfiableError,  # issue 4
    SchemaOutOfDateError,
    ServerError,
    StorageError,  # issue 4
    UnprocessableContentError,  # issue 4
    UnsupportedMediaTypeError,
)

log = logging.getLogger("jitc.server")
security_log = logging.getLogger("jitc.security")  # the same logger as server.auth

# Most specific first: the first class the error is an instance of decides.
_STATUS: Final[tuple[tuple[type[Exception], int], ...]] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PayloadTooLargeError, 413),
    (RangeNotSatisfiableError, 416),  # issue 4
    (UnprocessableContentError, 422),  # issue 4
    (StorageError, 503),  # issue 4
    (BusyError, 503),
    (InsufficientStorageError, 507),
    (UnsupportedMediaTypeError, 415),
    (InvalidRequestError, 400),
    (SchemaOutOfDateError, 503),
    (ServerError, 500),
    (FormatError, 422),  # input that cannot form a custody entry (e.g. a float in data)
    (CustodyError, 500),
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


def status_for(error: Exception) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


async def handle_server_error(request: Request, exc: Exception) -> Response:
    status = status_for(exc)
    if isinstance(exc, PermissionDeniedError):
        log_permission_refusal(request, exc)
    if isinstance(exc, ServerError):
        code, message = exc.code, exc.message
    elif isinstance(exc, FormatError):
        code, message = "invalid_entry", str(exc)
    else:
        code, message = "custody_error", "the custody library refused the operation"
    if isinstance(exc, BusyError | InsufficientStorageError):
        log.warning("request refused for load: %s", exc.message)  # expected, no traceback
    elif status >= 500:
        log.error("request failed: %s", exc, exc_info=exc)
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}
    if isinstance(exc, RangeNotSatisfiableError):  # issue 4: RFC 9110 14.4
        headers["Content-Range"] = f"bytes */{exc.size}"
    if isinstance(exc, BusyError):  # RFC 9110 10.2.3
        headers["Retry-After"] = str(exc.retry_after)
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


async def handle_unexpected(_request: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


EXCEPTION_HANDLERS: Final = {
    ServerError: handle_server_error,
    CustodyError: handle_server_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
