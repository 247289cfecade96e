"""Sign-in methods: how a browser proves who it is, and how each request re-checks it.

Today there is one, the state-issued token (the same ES256 JWTs the API takes, verified
by the workspace's TokenVerifier with its revocation list). A state that runs OpenID
Connect adds a method with its own routes (redirect to the state's provider, callback)
that stores its own credential in the session; `verify` turns that credential into a
Principal on every request, so revocation and expiry apply the same way.
"""

from __future__ import annotations

from typing import Final, Protocol

from server.auth import Principal
from server.services.workspace import Workspace

MAX_TOKEN_CHARS: Final = 3000
"""A token kept in the session cookie must leave room under the browsers' 4 KiB limit."""


class SignInMethod(Protocol):
    @property
    def name(self) -> str:
        """Stored in the session: which method re-verifies its credential."""
        ...

    def verify(self, ws: Workspace, credential: str, *, remote: str | None) -> Principal:
        """The principal, or AuthenticationError (the sign-in has ended)."""
        ...


class StateToken:
    """A token issued by a state authority, pasted or chosen as a file."""

    name: Final = "token"

    def verify(self, ws: Workspace, credential: str, *, remote: str | None) -> Principal:
        return ws.authenticate(credential, remote=remote)


def token_from_form(pasted: str | None, file_bytes: bytes | None) -> str:
    """The token from the sign-in form: the pasted text, else the chosen file's text.
    Whitespace around it (a trailing newline in a file) is not part of a compact JWS."""
    if pasted and pasted.strip():
        return pasted.strip()
    if file_bytes:
        try:
            return file_bytes.decode("ascii").strip()
        except UnicodeDecodeError:
            return ""
    return ""


METHODS: Final[dict[str, SignInMethod]] = {StateToken.name: StateToken()}
