"""A case with every section of every page filled in: the scene the page-by-page checks
(language, times, accessibility, screenshots) walk through.

Case NL+FR with a witness each. NL-001 has content, is shared with FR, under a hold, and
is the one exhibit a defence lawyer's grant discloses; NL-002 is registered only; NL-003
was disposed of while the store's retention still keeps its bytes. A judge holds a grant
for every exhibit. There are notes, a full bundle, and a selective one made while FR's
witness was down, which therefore stops before the newest entry. BE is proposed by FR
and waits for NL's consent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from evidence.fs import FilesystemStore
from server.app import create_app
from server.runtime import Runtime
from server.services.workspace import Workspace
from server.web import WebConfig, mount_web
from tests.server.helpers import ACQUISITION, World
from tests.server.witnesses import Witnesses
from tests.web.conftest import SESSION_KEY

Request = Callable[..., httpx.Response]
"""(method, path, **httpx options) -> response: a TestClient's or a live server's."""

PHONE = hashlib.shake_256(b"NL-001 handset image").digest(2_400_000)
SIM = hashlib.shake_256(b"NL-003 SIM image").digest(128_000)
DEFENCE = "adv-bakker"
JUDGE = "judge-visser"
WAIT = 60.0


def witnessed_app(ws: Workspace, witnesses: Witnesses) -> Starlette:
    """The app with the pages, whose witnessing rounds reach the in-process witnesses."""
    app = create_app(workspace=ws, submitter=witnesses.submitter())
    mount_web(app, ws, config=WebConfig(session_key=SESSION_KEY))
    return app


def witnesses_for(ws: Workspace, root: Path) -> Witnesses:
    found = Witnesses(ws)
    found.add("NL", root / "nl-witness")
    found.add("FR", root / "fr-witness")
    return found


@dataclass(frozen=True)
class Tour:
    case_id: str
    exhibit_id: str
    bare_id: str
    disposed_id: str
    export_id: str
    short_export_id: str
    proposal_seq: int

    @property
    def case(self) -> str:
        return f"/cases/{self.case_id}"

    def exhibit(self, exhibit_id: str | None = None) -> str:
        return f"{self.case}/exhibits/{exhibit_id or self.exhibit_id}"

    def visits(self) -> dict[tuple[str, str, str | None], list[tuple[str, str]]]:
        """(state, role, sub) -> the pages that person sees, each with a short name (the
        screenshot's). Together: every page of the workspace, every section filled in."""
        case = self.case
        return {
            ("NL", "prosecutor", None): [
                ("/cases", "cases"),
                ("/cases/new", "case-new"),
                (case, "case"),
                (self.exhibit(), "exhibit"),
                (self.exhibit(self.disposed_id), "exhibit-disposed"),
                (f"{case}/log", "timeline"),
                (f"{case}/log/1", "entry-proof"),
                (f"{case}/notes", "notes"),
                (f"{case}/exports", "exports"),
                (f"{case}/exports/{self.export_id}", "export"),
                (f"{case}/exports/{self.short_export_id}", "export-short"),
                ("/verify-bundle", "verify-bundle"),
                ("/licenses", "licences"),
                ("/cases/00000000-0000-4000-8000-000000000000", "not-found"),
            ],
            ("NL", "technician", None): [
                (f"{case}/exhibits/new", "exhibit-new"),
                (self.exhibit(self.bare_id), "exhibit-upload"),
            ],
            ("FR", "prosecutor", None): [
                (case, "case-fr"),
            ],
            ("NL", "defence", DEFENCE): [
                (case, "defence-case"),
                (self.exhibit(), "defence-exhibit"),
                (f"{case}/log", "defence-timeline"),
                (f"{case}/exports", "defence-exports"),
            ],
            ("NL", "judge", JUDGE): [
                (case, "judge-case"),
                (f"{case}/exports/{self.short_export_id}", "judge-export"),
            ],
        }


class _Api:
    def __init__(self, request: Request, world: World) -> None:
        self.request = request
        self.world = world

    def __call__(
        self, method: str, path: str, code: str, role: str, *, expect: int, **options: Any
    ) -> Any:
        headers = {**self.world.headers(code, role), **options.pop("headers", {})}
        answer = self.request(method, path, headers=headers, **options)
        assert answer.status_code == expect, (path, answer.text)
        return answer.json() if answer.content else None

    def exhibit(self, case: str, label: str, description: str, content: bytes | None) -> str:
        """Register an exhibit, with the SHA-256 its forensic tool reported for `content`."""
        acquisition = dict(ACQUISITION)
        if content is not None:
            acquisition["hashes"] = {"sha256": hashlib.sha256(content).hexdigest()}
        made = self(
            "POST",
            f"{case}/exhibits",
            "NL",
            "technician",
            expect=201,
            json={"label": label, "description": description, "acquisition": acquisition},
        )
        exhibit_id: str = made["id"]
        return exhibit_id

    def store(self, case: str, exhibit_id: str, filename: str, content: bytes) -> None:
        self(
            "PUT",
            f"{case}/exhibits/{exhibit_id}/content?filename={filename}",
            "NL",
            "technician",
            expect=201,
            content=content,
            headers={"Content-Type": "application/octet-stream"},
        )


def build_tour(
    request: Request, runtime: Runtime, world: World, ws: Workspace, witnesses: Witnesses
) -> Tour:
    """Fill the case in through the API, waiting for the witnesses and the exports."""
    api = _Api(request, world)
    if "BE" not in world.keys:
        world.add_state("BE")
    made = api(
        "POST",
        "/api/cases",
        "NL",
        "prosecutor",
        expect=201,
        json={"title": "Operation Tulip", "parties": ["NL", "FR"], "agreement": "JIT-2026-17"},
    )
    case = f"/api/cases/{made['id']}"
    exhibit_id = api.exhibit(case, "NL-001 handset", "Samsung, seized on 27 November", PHONE)
    bare_id = api.exhibit(case, "NL-002 laptop", "Lenovo, seized at the address", None)
    disposed_id = api.exhibit(case, "NL-003 SIM card", "Prepaid SIM, imaged and returned", SIM)
    api.store(case, exhibit_id, "phone.bin", PHONE)
    store = ws.store
    assert isinstance(store, FilesystemStore)
    store.retention_days = 365  # NL-003's bytes outlive its disposal
    api.store(case, disposed_id, "sim.bin", SIM)
    store.retention_days = None
    api(
        "POST",
        f"{case}/exhibits/{disposed_id}/dispose",
        "NL",
        "prosecutor",
        expect=200,
        json={"reason": "returned to its owner", "authority": "OvJ Amsterdam 2026/311"},
    )
    api(
        "POST",
        f"{case}/exhibits/{exhibit_id}/shares",
        "NL",
        "prosecutor",
        expect=201,
        json={"jurisdiction": "FR", "conditions": "JIT use only; no onward transfer"},
    )
    api(
        "POST",
        f"{case}/exhibits/{exhibit_id}/hold",
        "NL",
        "prosecutor",
        expect=200,
        json={"reason": "seized phone, trial pending", "authority": "order 12/2026"},
    )
    for exhibit, text in (
        (None, "Search warrant executed 27-11."),
        (exhibit_id, "Screen cracked."),
    ):
        api(
            "POST",
            f"{case}/notes",
            "NL",
            "investigator",
            expect=201,
            json={"exhibit": exhibit, "text": text},
        )
    api(
        "POST",
        f"{case}/grants",
        "NL",
        "prosecutor",
        expect=201,
        json={"jurisdiction": "NL", "sub": JUDGE, "role": "judge"},
    )
    api(
        "POST",
        f"{case}/grants",
        "NL",
        "prosecutor",
        expect=201,
        json={"jurisdiction": "NL", "sub": DEFENCE, "role": "defence", "exhibits": [exhibit_id]},
    )
    runtime.witnessing_settled().result(WAIT)
    full = api(
        "POST",
        f"{case}/exports",
        "NL",
        "prosecutor",
        expect=201,
        json={"disclosure": "full", "content": False, "recipient": "Rechtbank Amsterdam"},
    )
    runtime.drain(WAIT)
    witnesses.down.add("FR")
    proposed = api(
        "POST", f"{case}/parties", "FR", "prosecutor", expect=202, json={"jurisdiction": "BE"}
    )
    runtime.witnessing_settled().result(WAIT)
    short = api(
        "POST",
        f"{case}/exports",
        "NL",
        "prosecutor",
        expect=201,
        json={
            "disclosure": "selective",
            "content": True,
            "exhibits": [exhibit_id],
            "recipient": f"{DEFENCE} (defence)",
        },
    )
    runtime.drain(WAIT)
    runtime.witnessing_settled().result(WAIT)
    return Tour(
        case_id=made["id"],
        exhibit_id=exhibit_id,
        bare_id=bare_id,
        disposed_id=disposed_id,
        export_id=full["id"],
        short_export_id=short["id"],
        proposal_seq=int(proposed["proposal"]),
    )
