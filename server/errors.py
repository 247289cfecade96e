"""One error root for the server, subclasses named for what went wrong.

Each error carries a stable machine-readable `code` and a human message. HTTP status codes
live in exactly one place, `server.api.errors`, which maps these (and custody.errors) to
`{"error": {"code": ..., "message": ...}}` responses.
"""

from __future__ import annotations

from typing import ClassVar


class ServerError(Exception):
    """Root of every error the server raises on purpose."""

    default_code: ClassVar[str] = "server_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class ConfigError(ServerError):
    """The environment or the command line configures the server wrongly."""

    default_code = "config_error"


class SchemaOutOfDateError(ServerError):
    """The database is behind (or ahead of) the latest migration."""

    default_code = "schema_out_of_date"


class InvalidRequestError(ServerError):
    """A request body, query parameter or path parameter is malformed."""

    default_code = "invalid_request"


class PayloadTooLargeError(InvalidRequestError):
    """A request body is bigger than the limit for its endpoint."""

    default_code = "payload_too_large"


class RequestTimeoutError(InvalidRequestError):
    """The client sent no byte of its request body for JITC_BODY_IDLE_TIMEOUT seconds."""

    default_code = "body_timeout"


class UnsupportedMediaTypeError(InvalidRequestError):
    """A request body is not JSON."""

    default_code = "unsupported_media_type"


class AuthenticationError(ServerError):
    """A bearer token is missing, forged, expired, revoked... `code` says which (the reason)."""

    default_code = "unauthenticated"


class PermissionDeniedError(ServerError):
    """An authenticated actor may not do this action on this case or exhibit.

    `who` (jurisdiction, sub, role, jti) and `action` go to the security log with the
    request path when the refusal is answered (server.api.errors)."""

    default_code = "forbidden"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        who: tuple[str, str, str, str] | None = None,
        action: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.who = who
        self.action = action


class NotFoundError(ServerError):
    """No such case, exhibit, jurisdiction or route."""

    default_code = "not_found"


class ConflictError(ServerError):
    """The action contradicts the current state (sealed exhibit, hold already set...)."""

    default_code = "conflict"


class UnprocessableContentError(ServerError):
    """Content received whole but refused: its SHA-256 is not the one the client declared."""

    default_code = "digest_mismatch"


class RangeNotSatisfiableError(InvalidRequestError):
    """A byte range outside the stored content (RFC 9110 15.5.17)."""

    default_code = "range_not_satisfiable"

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size


class StorageError(ServerError):
    """The evidence store failed or could not be reached."""

    default_code = "storage_unavailable"


class BusyError(ServerError):
    """The server is doing as much of this as it allows at once; the client retries later."""

    default_code = "busy"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class InsufficientStorageError(ServerError):
    """The server's disk lacks the room to do this without endangering other work."""

    default_code = "insufficient_storage"


class LogKeyError(ConfigError):
    """The log's Ed25519 key cannot be read or created."""

    default_code = "log_key_error"
