"""Permission before validation: a caller who may not act is told so (403) before anything
about their request body (400), and learns nothing from the body's checks.

`first(case_id, action, work)` wraps a route's `work(ws, principal, body)`: the caller's
standing for `action` on the case is checked first (`server.services.cases.precheck`),
then the body is parsed and the service runs (and checks again, under the case lock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from server.auth import Principal
from server.permissions import Action
from server.services import cases
from server.services.workspace import Workspace

T = TypeVar("T")

Work = Callable[[Workspace, Principal, dict[str, Any]], T]


def first(case_id: str, action: Action, work: Work[T]) -> Work[T]:
    def run(ws: Workspace, principal: Principal, body: dict[str, Any]) -> T:
        cases.precheck(ws, principal, case_id, action)
        return work(ws, principal, body)

    return run
