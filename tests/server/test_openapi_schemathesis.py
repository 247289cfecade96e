"""Every operation of /openapi.json, driven by schemathesis with all of its checks.

The app runs in process over a real database (SQLite, then PostgreSQL) and a file
evidence store, with a seeded case (NL and DE), an exhibit with content and an open tus
upload. Each operation gets the document's examples, the coverage phase's boundary cases
(each limit, each required part left out, methods its path does not serve), and
generated requests that fit the schema and that do not; the reads run again once the
writes have filled the case. Ids in UUID form are replaced by the seeded ones, so that
requests reach the services instead of stopping at 404; the callers are real ES256 tokens
of the role each operation needs. A server error, or an undocumented status, header,
content type or body, is a failure: the document must describe every answer the server
gives.

The run is bounded (derandomized, a dozen generated requests per operation and kind) to
keep it in the suite: about 1300 boundary cases and 1000 generated ones per database.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err
from schemathesis.python import asgi
from starlette.applications import Starlette

from server.app import create_app
from server.services.workspace import Workspace
from tests.evidence.support import Harness
from tests.server.helpers import World, create_case, error_code, register_exhibit
from tests.server.testclient import TestClient

LOG_NAME = "jitc.test"  # as tests/server/conftest.py names the log
MAX_EXAMPLES = 12  # per operation and kind (fits / does not fit): about a minute in all
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Who calls what: the owner state's investigator stores content and registers exhibits;
# its prosecutor does everything else a state does in a case.
_INVESTIGATOR_PATHS = ("/content", "/uploads", "/exhibits", "/seal")


class Seeded:
    """The seeded case's ids, and a token for each role the run calls with."""

    def __init__(self, world: World, ids: dict[str, str]) -> None:
        self.ids = ids
        # The open tus upload belongs to a second exhibit, which has no content yet.
        self.uploading = {**ids, "exhibit_id": ids["uploading_exhibit_id"]}
        self.tokens = {
            role: world.token("NL", role) for role in ("prosecutor", "investigator", "judge")
        }

    def ids_for(self, path: str) -> dict[str, str]:
        return self.uploading if "/uploads" in path else self.ids


@pytest.fixture
def api(workspace: Workspace, tmp_path: Path) -> Iterator[tuple[Starlette, Seeded]]:
    """The app over the workspace (SQLite, then PostgreSQL: PostgreSQL text holds no NUL,
    for one) and a file store, with the seeded case."""
    ws = workspace
    ws.use_store(Harness("fs", root=tmp_path / "evidence").store)
    world = World.create(ws.engine, audience=LOG_NAME, codes=("NL", "DE", "FR"))
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="schemathesis-bg") as pool:
        app = create_app(workspace=ws, executor=pool)
        with TestClient(app, raise_server_exceptions=False) as client:
            case_id = create_case(client, world)
            exhibit_id = register_exhibit(client, world, case_id)
            base = f"/api/cases/{case_id}/exhibits/{exhibit_id}"
            stored = client.put(
                f"{base}/content",
                content=b"seized bytes",
                headers={**world.headers("NL", "investigator"), "Content-Type": "text/plain"},
            )
            assert stored.status_code == 201, stored.text
            second = register_exhibit(client, world, case_id, label="Phone")
            upload = client.post(
                f"/api/cases/{case_id}/exhibits/{second}/uploads",
                headers={
                    **world.headers("NL", "investigator"),
                    "Tus-Resumable": "1.0.0",
                    "Upload-Length": "64",
                },
            )
            assert upload.status_code == 201, upload.text
        ids = {
            "case_id": case_id,
            "exhibit_id": exhibit_id,
            "upload_id": upload.headers["location"].rsplit("/", 1)[1],
            "uploading_exhibit_id": second,
        }
        try:
            yield app, Seeded(world, ids)
        finally:
            asgi.shutdown_lifespans()  # the runtime schemathesis started stops here


# Every check is on; two of them are told what this API answers by design:
# - a request that fits the schema can still be refused for the case's state, with 400 and
#   a code that says why (a jurisdiction not registered, a range past the log's end, a
#   cursor this server never gave out), 413 (a size past the workspace's configured
#   limit), 416 (a range past the content's end) or 422 (input that cannot form a custody
#   entry);
# - tus core answers 412 to a request without Tus-Resumable: 1.0.0 (two checks).
# Query parameters the document does not name are ignored, as HTTP servers do; the run
# does not invent them.
_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "413", "416", "422"]
            },
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "409",
                    "412",
                    "413",
                    "415",
                    "416",
                    "422",
                ]
            },
            "missing_required_header": {
                "expected-statuses": ["400", "401", "403", "406", "412", "415", "422"]
            },
        },
        "generation": {"allow-extra-parameters": False},
    }
)
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


_READS = {
    "GET /api/cases/{case_id}",
    "GET /api/cases/{case_id}/exhibits",
    "GET /api/cases/{case_id}/exhibits/{exhibit_id}",
    "GET /api/cases/{case_id}/exhibits/{exhibit_id}/content",
    "GET /api/cases/{case_id}/log",
    "GET /api/cases/{case_id}/checkpoint",
    "GET /api/cases/{case_id}/policy",
    "GET /api/cases/{case_id}/shares",
}


def _role(path: str) -> str:
    if path.endswith(_INVESTIGATOR_PATHS) or "/uploads/" in path:
        return "investigator"
    return "prosecutor"


def _exercise(
    operation: Any, strategy: Any, count: int, seeded: Seeded, seen: dict[str, set[int]]
) -> None:
    @given(case=strategy)
    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        _call(case, seeded, seen)

    run()


def _call(case: Any, seeded: Seeded, seen: dict[str, set[int]]) -> None:
    operation = case.operation
    ids = seeded.ids_for(operation.path)
    for name, value in list((case.path_parameters or {}).items()):
        if name in ids and isinstance(value, str) and _UUID.fullmatch(value):
            case.path_parameters[name] = ids[name]
    token = seeded.tokens[_role(operation.path)]
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
    seen.setdefault(operation.label, set()).add(response.status_code)


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc))


def test_every_answer_is_described(api: tuple[Starlette, Seeded]) -> None:
    app, seeded = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_CONFIG)
    failures: list[str] = []
    seen: dict[str, set[int]] = {}
    operations = 0
    reads: list[Any] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the document is invalid: {result.err()}")
            continue
        operation = result.ok()
        operations += 1
        if operation.method.upper() == "GET":
            reads.append(operation)
        # The document's own examples first (well-formed requests that the seeded case
        # lets through), then generated requests that fit the schema, then ones that do not.
        runs = [
            ("example", strategy, 1) for strategy in schema.get_strategies_from_examples(operation)
        ]
        runs += [
            (mode.value, operation.as_strategy(generation_mode=mode), MAX_EXAMPLES)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
        # The boundary cases schemathesis' coverage phase makes (each limit, each required
        # part left out, methods the path does not serve), each sent once.
        coverage = schema.iter_coverage_cases(
            operation,
            generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
            generation_config=schema.config.generation_for(operation=operation),
        )
        try:
            for case in coverage:
                _call(case, seeded, seen)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all, together
            failures.append(f"{operation.label} [coverage]: {_describe(exc)}")
        for kind, strategy, count in runs:
            try:
                _exercise(operation, strategy, count, seeded, seen)
            except Unsatisfiable:
                continue  # nothing to negate: an operation without parameters or body
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all, together
                failures.append(f"{operation.label} [{kind}]: {_describe(exc)}")
    # The reads once more, now that the writes have filled the case (grants, proposals,
    # holds, notes, shares): lists that were empty the first time are checked too.
    for operation in reads:
        try:
            _exercise(operation, operation.as_strategy(), 3, seeded, seen)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all, together
            failures.append(f"{operation.label} [again]: {_describe(exc)}")
    # Every operation but GET /openapi.json, which schemathesis leaves out (it read it).
    described = sum(len(ops) for ops in schema.raw_schema["paths"].values())
    assert operations == described - 1 > 40
    assert not failures, "\n\n".join(failures)
    # The seeded ids let the reads through to the services: their answers were checked too.
    reached = {label for label, statuses in seen.items() if statuses & {200, 201, 204}}
    assert reached >= _READS, _READS - reached


def test_a_method_a_path_does_not_serve_is_405_naming_all_it_serves(
    api: tuple[Starlette, Seeded],
) -> None:
    app, seeded = api
    client = TestClient(app, raise_server_exceptions=False)  # no lifespan: none is needed
    document = client.get("/openapi.json").json()
    values = {**seeded.ids, "export_id": seeded.ids["case_id"], "code": "DE", "seq": "0"}
    refused = 0
    for path, operations in document["paths"].items():
        described = {method.upper() for method in operations}
        served = described | ({"HEAD"} if "GET" in described else set())
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method in served:
                continue
            response = client.request(method, path.format(**values))
            assert response.status_code == 405, (method, path, response.text)
            assert error_code(response) == "method_not_allowed"
            assert set(response.headers["allow"].split(", ")) == served, (method, path)
            refused += 1
    assert refused > 100


def test_no_token_is_a_401_before_any_header_is_judged(api: tuple[Starlette, Seeded]) -> None:
    # Found by the run (ST203): a PUT without a token but with a malformed Repr-Digest
    # was a 400, telling a stranger how the request would be judged.
    app, seeded = api
    client = TestClient(app, raise_server_exceptions=False)
    ids = seeded.uploading
    base = f"/api/cases/{ids['case_id']}/exhibits/{ids['exhibit_id']}"
    put = client.put(f"{base}/content", content=b"x", headers={"Repr-Digest": "sha-256=:no:"})
    assert put.status_code == 401, put.text
    created = client.post(
        f"{base}/uploads",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": "1", "Upload-Metadata": "a b c"},
    )
    assert created.status_code == 401, created.text
    assert error_code(put) == error_code(created) == "token_missing"
