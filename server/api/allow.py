"""A 405 names every method its path serves (RFC 9110 15.5.6: Allow).

Starlette answers a method a path does not serve from the first route of that path, whose
Allow lists that route's methods only: `PUT /api/cases` said `Allow: POST` though GET is
served too. `with_allow` gives every route of a path the path's whole list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send


class MethodRoute(Route):
    """A route that knows all the methods of its path, for the Allow of its 405."""

    allow: str = ""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            raise HTTPException(status_code=405, headers={"Allow": self.allow})
        await super().handle(scope, receive, send)


def with_allow(table: Sequence[BaseRoute]) -> list[BaseRoute]:
    served: dict[str, set[str]] = defaultdict(set)
    for route in table:
        if isinstance(route, Route):
            served[route.path] |= route.methods or set()
    result: list[BaseRoute] = []
    for route in table:
        if not isinstance(route, Route):
            result.append(route)
            continue
        copy = MethodRoute(
            route.path,
            route.endpoint,
            methods=sorted(route.methods or ()),
            name=route.name,
            include_in_schema=route.include_in_schema,
        )
        copy.allow = ", ".join(sorted(served[route.path]))
        result.append(copy)
    return result
