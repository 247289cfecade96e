"""The one place where errors become HTTP responses: `{"error": {"code", "message"}}`.

Server errors keep their own code; custody library errors are mapped by class; anything
unexpected is a 500 with no detail (the traceback goes to the server log only).
"""

from __future__ import annotations

import logging
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from custody.errors import CustodyError, FormatError
from server.api.responses import json_response
from server.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SchemaOutOfDateError,
    ServerError,
    UnsupportedMediaTypeError,
)

log = logging.getLogger("jitc.server")

# Most specific first: the first class the error is an instance of decides.
_STATUS: Final[tuple[tuple[type[Exception], int], ...]] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PayloadTooLargeError, 413),
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


async def handle_server_error(_request: Request, exc: Exception) -> Response:
    status = status_for(exc)
    if isinstance(exc, ServerError):
        code, message = exc.code, exc.message
    elif isinstance(exc, FormatError):
        code, message = "invalid_entry", str(exc)
    else:
        code, message = "custody_error", "the custody library refused the operation"
    if status >= 500:
        log.error("request failed: %s", exc, exc_info=exc)
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}
    return error_response(status, code, message, **headers)


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
