"""Two app servers (`jitc serve` processes, each with its own data folder) on one
PostgreSQL database and one evidence store, two states' witnesses (`jitc witness serve`
processes): 64 writers spread over both servers on one case, and resumable uploads begun
on one server and continued on the other, make one log that verifies, and the witnesses
never refuse a checkpoint because both servers submitted at once (ADR 0036).

An export made through one server is downloaded through the other, in two byte ranges as
a resumed download does: bundles live in the evidence store, not in a server's data
folder (ADR 0039).

On the filesystem store (one folder both servers use) and on S3 (moto), whose uploads and
object keys are guarded by the database's leases.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from server import migrate
from server.cli import main as jitc
from server.models import Lease, table
from tests.evidence.support import REGION, MiB, MotoServer, pattern
from tests.server.conftest import LOG_NAME, PostgresDatabases, pg_url
from tests.server.helpers import ACQUISITION, World
from tests.server.logcheck import fetch_and_verify
from tests.server.test_e2e import LOG_SEED, Process, free_port, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITERS = 64
UPLOADS = 8
TUS = {"Tus-Resumable": "1.0.0"}
ADD_CHECKPOINT = re.compile(r'"POST /add-checkpoint HTTP/1\.1" (\d{3})')


@dataclass
class Deployment:
    servers: list[Process]
    witnesses: dict[str, Process]
    world: World
    urls: list[str]
    database_url: str

    def client(self, n: int) -> httpx.Client:
        return httpx.Client(base_url=self.servers[n % 2].url, timeout=60)


@pytest.fixture(params=["fs", pytest.param("s3", marks=pytest.mark.s3)])
def deployment(
    request: pytest.FixtureRequest,
    pg_databases: PostgresDatabases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Deployment]:
    url = pg_url(pg_databases.create(f"two_{uuid.uuid4().hex[:8]}"))
    engine = create_engine(url)
    migrate.upgrade(engine)
    shared = {
        **os.environ,
        "JITC_DATABASE_URL": url,
        "JITC_LOG_NAME": LOG_NAME,
        "JITC_LOG_KEY": LOG_SEED,
        "JITC_REVOCATION_REFRESH": "0",
    }
    if request.param == "s3":
        moto: MotoServer = request.getfixturevalue("moto_server")
        suffix = uuid.uuid4().hex[:8]
        shared["JITC_STORE_URL"] = (
            f"s3://{moto.endpoint}/evidence-{suffix}"
            f"?staging_bucket=staging-{suffix}&secure=false&region={REGION}"
        )
        shared["JITC_S3_ACCESS_KEY"] = moto.access_key
        shared["JITC_S3_SECRET_KEY"] = moto.secret_key
    else:
        shared["JITC_STORE_URL"] = str(tmp_path / "evidence")  # one folder, both servers
    for name in ("JITC_DATABASE_URL", "JITC_LOG_NAME", "JITC_LOG_KEY", "JITC_STORE_URL"):
        monkeypatch.setenv(name, shared[name])
    monkeypatch.setenv("JITC_DATA_DIR", str(tmp_path / "cli"))
    world = World.create(engine, audience=LOG_NAME, codes=("NL", "DE"))
    with ExitStack() as stack:
        servers: list[Process] = []
        for n in range(2):
            port = free_port()
            env = {**shared, "JITC_DATA_DIR": str(tmp_path / f"server-{n}")}
            argv = ["serve", "--host", "127.0.0.1", "--port", str(port)]
            server = Process(argv, env, tmp_path / f"server-{n}.log", port)
            stack.callback(server.stop)
            server.start()
            servers.append(server)
        for server in servers:
            wait_for(lambda s=server: s.up("/api/log-key"), "a server")  # type: ignore[misc]
        log_vkey = httpx.get(servers[0].url + "/api/log-key", timeout=5).json()["vkey"]
        assert httpx.get(servers[1].url + "/api/log-key", timeout=5).json()["vkey"] == log_vkey
        witnesses: dict[str, Process] = {}
        for code in ("NL", "DE"):
            keys = tmp_path / f"{code}-keys"
            assert jitc(["witness", "init", "--name", f"{code}-1", "--out", str(keys)]) == 0
            port = free_port()
            argv = ["witness", "serve", "--key", str(keys / "witness.key")]
            argv += ["--state", str(tmp_path / f"{code}-state"), "--host", "127.0.0.1"]
            argv += ["--port", str(port), "--log", log_vkey]
            witness = Process(argv, shared, tmp_path / f"{code}-witness.log", port)
            stack.callback(witness.stop)
            witness.start()
            wait_for(lambda w=witness: w.up("/"), f"witness {code}")  # type: ignore[misc]
            witnesses[code] = witness
            vkey = (keys / "witness.vkey").read_text().strip()
            assert (
                jitc(["jurisdiction", "witness", code, "--url", witness.url, "--vkey", vkey]) == 0
            )
        yield Deployment(servers, witnesses, world, [s.url for s in servers], url)
    engine.dispose()


def _witnessed(deployment: Deployment, case_id: str, size: int) -> bool:
    """Both servers serve the newest checkpoint, of `size` entries, with both witnesses'
    cosignatures."""
    for n in range(2):
        with deployment.client(n) as client:
            response = client.get(
                f"/api/cases/{case_id}/checkpoint",
                headers=deployment.world.headers("DE", "investigator"),
            )
        if response.status_code != 200 or response.headers["JITC-Witnessed"] != "true":
            return False
        if response.content.split(b"\n")[1] != str(size).encode():
            return False
    return True


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _upload_across(
    deployment: Deployment, case_id: str, exhibit_id: str, n: int, token: str
) -> str:
    """Begin a tus upload on one server, send the first half through the other and the
    rest through the first; the SHA-256 the server answers."""
    data = pattern(2 * MiB + 1000 * n, seed=n)
    headers = {"Authorization": f"Bearer {token}", **TUS}
    path = f"/api/cases/{case_id}/exhibits/{exhibit_id}/uploads"
    with deployment.client(n) as here, deployment.client(n + 1) as there:
        created = here.post(
            path,
            headers={
                **headers,
                "Upload-Length": str(len(data)),
                "Upload-Metadata": "sha256 " + _b64(hashlib.sha256(data).hexdigest()),
            },
        )
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        half = len(data) // 2
        body = {**headers, "Content-Type": "application/offset+octet-stream"}
        first = there.patch(location, content=data[:half], headers={**body, "Upload-Offset": "0"})
        assert first.status_code == 204, first.text
        rest = here.patch(
            location, content=data[half:], headers={**body, "Upload-Offset": str(half)}
        )
        assert rest.status_code == 204, rest.text
        sha256: str = rest.headers["jitc-content-sha256"]
    assert sha256 == hashlib.sha256(data).hexdigest()
    return sha256


def test_two_servers_one_database_one_store_one_log(deployment: Deployment) -> None:
    world = deployment.world
    with deployment.client(0) as client:
        created = client.post(
            "/api/cases",
            json={"title": "Operation Tulip", "parties": ["NL", "DE"], "agreement": "JIT-1"},
            headers=world.headers("NL", "prosecutor"),
        )
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    tokens = [world.headers("NL", "investigator", sub=f"writer-{i}") for i in range(WRITERS)]
    technician = [world.token("NL", "technician") for _ in range(UPLOADS)]

    def register(i: int) -> str:
        with deployment.client(i) as client:  # even writers on one server, odd on the other
            response = client.post(
                f"/api/cases/{case_id}/exhibits",
                json={"label": f"item {i}", "description": "", "acquisition": dict(ACQUISITION)},
                headers=tokens[i],
            )
        assert response.status_code == 201, response.text
        exhibit_id: str = response.json()["id"]
        return exhibit_id

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        exhibits = list(pool.map(register, range(WRITERS)))
        hashes = list(
            pool.map(
                lambda n: _upload_across(deployment, case_id, exhibits[n], n, technician[n]),
                range(UPLOADS),
            )
        )
    assert len(set(hashes)) == UPLOADS

    with deployment.client(1) as client:
        entries = fetch_and_verify(client, world.headers("DE", "investigator"), case_id)
    types = Counter(entry.type for entry in entries)
    assert types["exhibit.registered"] == WRITERS
    assert types["exhibit.ingested"] == UPLOADS
    assert len(entries) == 2 + WRITERS + UPLOADS  # case.created, case.policy_set, and these
    ingested = {e.exhibit: e.data["sha256"] for e in entries if e.type == "exhibit.ingested"}
    assert ingested == dict(zip(exhibits[:UPLOADS], hashes, strict=True))

    wait_for(lambda: _witnessed(deployment, case_id, len(entries)), "both witnesses' cosignature")
    for code, witness in deployment.witnesses.items():
        answers = Counter(ADD_CHECKPOINT.findall(witness.log.read_text()))
        assert answers, f"witness {code} was never asked"
        assert set(answers) == {"200"}, f"witness {code} answered {answers}"
    engine = create_engine(deployment.database_url)
    try:
        with engine.connect() as conn:
            names = list(conn.execute(select(table(Lease).c.name)).scalars())
    finally:
        engine.dispose()
    assert not [name for name in names if not name.startswith("witness:")]  # all given back


def test_an_export_made_on_one_server_is_resumed_on_the_other(deployment: Deployment) -> None:
    world = deployment.world
    prosecutor = world.headers("NL", "prosecutor")
    with deployment.client(0) as client:
        created = client.post(
            "/api/cases",
            json={"title": "Operation Iris", "parties": ["NL", "DE"], "agreement": "JIT-2"},
            headers=prosecutor,
        )
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        registered = client.post(
            f"/api/cases/{case_id}/exhibits",
            json={"label": "phone", "description": "", "acquisition": dict(ACQUISITION)},
            headers=world.headers("NL", "investigator"),
        )
        assert registered.status_code == 201, registered.text
    exhibit_id = registered.json()["id"]
    sha256 = _upload_across(deployment, case_id, exhibit_id, 1, world.token("NL", "technician"))
    wait_for(lambda: _witnessed(deployment, case_id, 4), "both witnesses' cosignature")

    body = {"exhibits": None, "disclosure": "full", "content": True, "recipient": "court"}
    with deployment.client(0) as client:
        made = client.post(f"/api/cases/{case_id}/exports", json=body, headers=prosecutor)
    assert made.status_code == 201, made.text
    export_id, bundle_sha256 = made.json()["id"], made.json()["bundle_sha256"]
    size = made.json()["bundle_size"]
    assert size > 2 * MiB  # the exhibit's bytes are in it
    assert not list((Path(deployment.servers[0].log).parent / "server-0").rglob("*.zip"))

    path = f"/api/cases/{case_id}/exports/{export_id}"
    cut = size // 3
    with deployment.client(1) as other:  # the server that did not make it
        head = other.get(path, headers={**prosecutor, "Range": f"bytes=0-{cut - 1}"})
        assert head.status_code == 206, head.text
        assert head.headers["content-range"] == f"bytes 0-{cut - 1}/{size}"
        etag = head.headers["etag"]
        assert etag == f'"{bundle_sha256}"'
        rest = other.get(path, headers={**prosecutor, "Range": f"bytes={cut}-", "If-Range": etag})
        assert rest.status_code == 206, rest.text
        assert rest.headers["content-range"] == f"bytes {cut}-{size - 1}/{size}"
        stale = other.get(path, headers={**prosecutor, "Range": "bytes=5-", "If-Range": '"x"'})
        assert stale.status_code == 200  # another bundle than the client holds: all of it
        beyond = other.get(path, headers={**prosecutor, "Range": f"bytes={size}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{size}"
    bundle = head.content + rest.content
    assert hashlib.sha256(bundle).hexdigest() == bundle_sha256
    assert bundle == stale.content

    with deployment.client(0) as client:
        entries = fetch_and_verify(client, world.headers("DE", "investigator"), case_id)
    (logged,) = [e for e in entries if e.type == "export.created"]
    assert logged.data["bundle_sha256"] == bundle_sha256
    accesses = [e for e in entries if e.type == "exhibit.accessed"]
    # One download of one export by one person is one access per exhibit, resumed on
    # another server included (docs/permissions.md); a 416 is no access at all.
    assert len(accesses) == 1
    assert {e.exhibit for e in accesses} == {exhibit_id}
    assert sha256 in {e.data.get("sha256") for e in entries if e.type == "exhibit.ingested"}
