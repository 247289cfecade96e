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


class UnsupportedMediaTypeError(InvalidRequestError):
    """A request body is not JSON."""

    default_code = "unsupported_media_type"


class AuthenticationError(ServerError):
    """A bearer token is missing, forged, expired, revoked... `code` says which (the reason)."""

    default_code = "unauthenticated"


class PermissionDeniedError(ServerError):
    """An authenticated actor may not do this action on this case or exhibit."""

    default_code = "forbidden"


class NotFoundError(ServerError):
    """No such case, exhibit, jurisdiction or route."""

    default_code = "not_found"


class ConflictError(ServerError):
    """The action contradicts the current state (sealed exhibit, hold already set...)."""

    default_code = "conflict"


class FeatureDisabledError(NotFoundError):
    """An endpoint switched off by configuration (the bench's plain insert)."""

    default_code = "not_found"


class LogKeyError(ConfigError):
    """The log's Ed25519 key cannot be read or created."""

    default_code = "log_key_error"
