"""End to end: two states, two witness processes, the server (uvicorn) on
PostgreSQL with the S3 store (moto); register, upload, share, access by the other state,
defence access, full and selective bundles that `jitc verify` passes with a policy the
user built from the states' own keys; a witness that goes down and comes back."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from custody.note import NoteVerifier
from custody.policy import build_policy
from server import migrate
from server.cli import main as jitc
from tests.evidence.support import REGION, MotoServer
from tests.server.conftest import LOG_NAME, PostgresDatabases, pg_url
from tests.server.helpers import ACQUISITION, World

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ENTRY = "import sys; from server.cli import main; sys.exit(main(sys.argv[1:]))"
TIMEOUT = 60.0
LOG_SEED = base64.b64encode(bytes(range(32))).decode()
CONTENT = {"Laptop": os.urandom(300_000), "Phone": os.urandom(70_000)}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], what: str, *, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Process:
    """A `jitc` subprocess on a loopback port; always killed in teardown."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, port: int) -> None:
        self.argv, self.env, self.log, self.port = argv, env, log, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", ENTRY, *self.argv],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def up(self, path: str) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.argv[0]} exited: {self.log.read_text()[-2000:]}")
        return httpx.get(self.url + path, timeout=2).status_code < 500

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@dataclass
class Setup:
    server: Process
    witnesses: dict[str, Process]
    world: World
    env: dict[str, str]
    vkeys: dict[str, str]
    tmp: Path

    def headers(self, code: str, role: str, sub: str | None = None) -> dict[str, str]:
        return self.world.headers(code, role, sub)

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, self.server.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def setup(
    pg_databases: PostgresDatabases,
    moto_server: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Setup]:
    url = pg_url(pg_databases.create(f"e2e_{uuid.uuid4().hex[:8]}"))
    engine = create_engine(url)
    migrate.upgrade(engine)
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "JITC_DATABASE_URL": url,
        "JITC_DATA_DIR": str(tmp_path / "server"),
        "JITC_LOG_NAME": LOG_NAME,
        "JITC_LOG_KEY": LOG_SEED,
        "JITC_STORE_URL": (
            f"s3://{moto_server.endpoint}/evidence-{suffix}"
            f"?staging_bucket=staging-{suffix}&secure=false&region={REGION}"
        ),
        "JITC_S3_ACCESS_KEY": moto_server.access_key,
        "JITC_S3_SECRET_KEY": moto_server.secret_key,
        "JITC_REVOCATION_REFRESH": "0",
    }
    for name in ("JITC_DATABASE_URL", "JITC_DATA_DIR", "JITC_LOG_NAME", "JITC_LOG_KEY"):
        monkeypatch.setenv(name, env[name])
    world = World.create(engine, audience=LOG_NAME, codes=("NL", "DE", "FR"))
    with ExitStack() as stack:
        port = free_port()
        server = Process(
            ["serve", "--host", "127.0.0.1", "--port", str(port)],
            env,
            tmp_path / "server.log",
            port,
        )
        stack.callback(server.stop)
        server.start()
        wait_for(lambda: server.up("/api/log-key"), "the server")
        log_vkey = httpx.get(server.url + "/api/log-key", timeout=5).json()["vkey"]
        witnesses: dict[str, Process] = {}
        vkeys: dict[str, str] = {}
        for code in ("NL", "DE"):
            keys = tmp_path / f"{code}-keys"
            assert jitc(["witness", "init", "--name", f"{code}-1", "--out", str(keys)]) == 0
            vkeys[code] = (keys / "witness.vkey").read_text().strip()
            wport = free_port()
            argv = ["witness", "serve", "--key", str(keys / "witness.key")]
            argv += ["--state", str(tmp_path / f"{code}-state"), "--host", "127.0.0.1"]
            argv += ["--port", str(wport), "--log", log_vkey]
            witness = Process(argv, env, tmp_path / f"{code}-witness.log", wport)
            stack.callback(witness.stop)
            witness.start()
            wait_for(lambda w=witness: w.up("/"), f"witness {code}")  # type: ignore[misc]
            witnesses[code] = witness
            argv = ["jurisdiction", "witness", code, "--url", witness.url, "--vkey", vkeys[code]]
            assert jitc(argv) == 0
        yield Setup(server, witnesses, world, env, vkeys, tmp_path)
    engine.dispose()


def _witnessed(setup: Setup, case_id: str) -> bool:
    response = setup.api(
        "GET", f"/api/cases/{case_id}/checkpoint", headers=setup.headers("DE", "investigator")
    )
    return response.status_code == 200 and response.headers["JITC-Witnessed"] == "true"


def _user_policy(setup: Setup, case_id: str) -> Path:
    """What a court would build from each state's own published keys, not the bundle's."""
    log_vkey = httpx.get(setup.server.url + "/api/log-key", timeout=5).json()["vkey"]
    case_vkey = NoteVerifier.from_vkey(log_vkey).for_name(f"{LOG_NAME}/case/{case_id}").vkey()
    policy = build_policy(
        case_vkey, [("NL-1", setup.vkeys["NL"]), ("DE-1", setup.vkeys["DE"])], quorum="all"
    )
    path = setup.tmp / "policy.txt"
    path.write_text(policy.to_text())
    return path


def test_two_states_two_witnesses_postgres_and_s3(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nl_prosecutor = setup.headers("NL", "prosecutor")
    created = setup.api(
        "POST",
        "/api/cases",
        json={"title": "Operation Tulip", "parties": ["NL", "DE"], "agreement": "JIT-1"},
        headers=nl_prosecutor,
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    exhibits: dict[str, str] = {}
    for label, data in CONTENT.items():
        registered = setup.api(
            "POST",
            f"/api/cases/{case_id}/exhibits",
            json={"label": label, "description": "seized", "acquisition": dict(ACQUISITION)},
            headers=setup.headers("NL", "investigator"),
        )
        assert registered.status_code == 201, registered.text
        exhibits[label] = registered.json()["id"]
        uploaded = setup.api(
            "PUT",
            f"/api/cases/{case_id}/exhibits/{exhibits[label]}/content?filename={label}.img",
            content=data,
            headers={
                **setup.headers("NL", "technician"),
                "Content-Type": "application/octet-stream",
            },
        )
        assert uploaded.status_code == 201, uploaded.text

    # Sharing: DE reads the laptop once it is shared, never the phone.
    laptop, phone = exhibits["Laptop"], exhibits["Phone"]
    shared = setup.api(
        "POST",
        f"/api/cases/{case_id}/exhibits/{laptop}/shares",
        json={"jurisdiction": "DE", "conditions": "for the Landgericht only"},
        headers=nl_prosecutor,
    )
    assert shared.status_code == 201, shared.text
    german = setup.headers("DE", "investigator")
    read = setup.api(
        "GET", f"/api/cases/{case_id}/exhibits/{laptop}/content?purpose=analysis", headers=german
    )
    assert read.status_code == 200, read.text
    assert read.content == CONTENT["Laptop"]
    refused = setup.api(
        "GET", f"/api/cases/{case_id}/exhibits/{phone}/content?purpose=analysis", headers=german
    )
    assert refused.status_code == 403

    # Defence access: reads the log, changes nothing.
    defence = setup.headers("NL", "defence", sub="counsel-1")
    granted = setup.api(
        "POST",
        f"/api/cases/{case_id}/access",
        json={"jurisdiction": "NL", "sub": "counsel-1", "role": "defence"},
        headers=nl_prosecutor,
    )
    assert granted.status_code == 201, granted.text
    assert setup.api("GET", f"/api/cases/{case_id}/log", headers=defence).status_code == 200

    wait_for(lambda: _witnessed(setup, case_id), "the witnesses' cosignatures")
    policy = _user_policy(setup, case_id)

    # Exports through `jitc export`, verified by `jitc verify --policy`.
    monkeypatch.setenv("JITC_SERVER", setup.server.url)
    monkeypatch.setenv("JITC_TOKEN", setup.world.token("NL", "prosecutor"))
    full = setup.tmp / "full.zip"
    selective = setup.tmp / "selective.zip"
    assert (
        jitc(["export", case_id, "--out", str(full), "--recipient", "Rb Den Haag", "--content"])
        == 0
    )
    assert (
        jitc(
            [
                "export",
                case_id,
                "--out",
                str(selective),
                "--recipient",
                "LG Köln",
                "--selective",
                "--exhibit",
                laptop,
                "--content",
            ]
        )
        == 0
    )
    capsys.readouterr()
    for bundle in (full, selective):
        code = jitc(["verify", str(bundle), "--policy", str(policy), "--json"])
        report = json.loads(capsys.readouterr().out)
        assert code == 0, [c for c in report["checks"] if c["status"] == "fail"]
        assert report["policy_source"] == "user"
        assert sorted(report["cosigners"]) == ["DE-1", "NL-1"]

    # The defence receives the bundle.
    listed = setup.api("GET", f"/api/cases/{case_id}/exports", headers=defence)
    assert len(listed.json()["items"]) == 2
    export_id = listed.json()["items"][0]["id"]
    got = setup.api("GET", f"/api/cases/{case_id}/exports/{export_id}", headers=defence)
    assert got.status_code == 200
    assert got.content[:2] == b"PK"

    # Witness down: appends go on, the checkpoint is served as not witnessed...
    setup.witnesses["DE"].stop()
    note = setup.api(
        "POST",
        f"/api/cases/{case_id}/notes",
        json={"exhibit": None, "text": "while DE's witness is down"},
        headers=nl_prosecutor,
    )
    assert note.status_code == 201, note.text
    response = setup.api("GET", f"/api/cases/{case_id}/checkpoint", headers=german)
    assert response.headers["JITC-Witnessed"] == "false"
    # ... and cosigned once the witness is back (same state, same port).
    setup.witnesses["DE"].start()
    wait_for(lambda: _witnessed(setup, case_id), "the cosignature after the witness came back")
