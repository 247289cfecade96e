"""Starlette's TestClient, imported without its httpx deprecation warning.

Starlette 1.x prefers the `httpx2` package for its test client; the project declares
`httpx`, which still works. Warnings are errors in pytest, so the import is wrapped here.
"""

from __future__ import annotations

import warnings

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

__all__ = ["TestClient"]
