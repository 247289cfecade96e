"""Server time of the web workspace's pages on a big case (run by hand; results in
docs/benchmarks.md).

    .venv/bin/python -m bench.ui_bench [--entries 100000] [--exhibits 1000] [--rounds 20]
                                       [--database-url postgresql+psycopg://...]

Builds a workspace (SQLite in a temporary folder unless --database-url names an empty
database) with one case of `--exhibits` exhibits and `--entries` custody entries in all:
the exhibits are registered, a few hundred notes added and a hundred shares made through
the services, a few exhibits get content, one export is made, and the rest of the entries
are `exhibit.accessed` records appended through the committer in units of a thousand (as
many downloads would). Then it signs in through the sign-in form and requests each page
`--rounds` times in this process (Starlette's test client: no network, so the time is the
server's: routing, services, SQL, templates) and prints p50, p95 and max per page.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from custody.entry import Actor  # noqa: E402
from server import migrate  # noqa: E402
from server.app import create_app  # noqa: E402
from server.config import Settings  # noqa: E402
from server.db import make_engine  # noqa: E402
from server.services.custody_log import CaseLog  # noqa: E402
from server.services.workspace import Workspace  # noqa: E402
from server.web import WebConfig, mount_web  # noqa: E402
from tests.server.helpers import ACQUISITION, World  # noqa: E402
from tests.server.testclient import TestClient  # noqa: E402

LOG_NAME = "bench.localhost"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
BUDGET_MS = 150.0


def build(
    ws: Workspace, world: World, client: TestClient, exhibits: int, entries: int
) -> dict[str, Any]:
    nl_pros = world.headers("NL", "prosecutor")
    nl_inv = world.headers("NL", "investigator")
    nl_tech = world.headers("NL", "technician")
    for n in range(20):  # other cases, so the case list is not a list of one
        made = client.post(
            "/api/cases",
            json={"title": f"Operation {n}", "parties": ["NL", "BE"], "agreement": f"JIT-{n}"},
            headers=nl_pros,
        )
        assert made.status_code == 201, made.text
    made = client.post(
        "/api/cases",
        json={"title": "Operation Big", "parties": ["NL", "BE", "FR"], "agreement": "JIT-BIG"},
        headers=nl_pros,
    )
    assert made.status_code == 201, made.text
    case_id = made.json()["id"]
    ids: list[str] = []
    started = time.monotonic()
    for n in range(exhibits):
        reg = client.post(
            f"/api/cases/{case_id}/exhibits",
            json={
                "label": f"Exhibit {n:04d}",
                "description": "seized",
                "acquisition": dict(ACQUISITION),
            },
            headers=nl_inv,
        )
        assert reg.status_code == 201, reg.text
        ids.append(reg.json()["id"])
    print(f"  {exhibits} exhibits registered in {time.monotonic() - started:.0f} s", flush=True)
    for n, exhibit_id in enumerate(ids[:100]):
        shared = client.post(
            f"/api/cases/{case_id}/exhibits/{exhibit_id}/shares",
            json={"jurisdiction": "FR" if n % 2 else "BE", "conditions": "court use only"},
            headers=nl_pros,
        )
        assert shared.status_code in (200, 201), shared.text
    for n in range(300):
        noted = client.post(
            f"/api/cases/{case_id}/notes",
            json={"text": f"note {n}", "exhibit": ids[n % len(ids)] if n % 3 else None},
            headers=nl_inv,
        )
        assert noted.status_code == 201, noted.text
    for exhibit_id in ids[:10]:
        put = client.put(
            f"/api/cases/{case_id}/exhibits/{exhibit_id}/content",
            content=os.urandom(64 * 1024),
            headers={**nl_tech, "Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 201, put.text
    size = int(client.get(f"/api/cases/{case_id}", headers=nl_pros).json().get("log_size", 0))
    actor = Actor(jurisdiction="NL", sub="investigator-nl", role="investigator", token="bench")
    rng = random.Random(7)
    left = entries - size if size else entries - (exhibits + 100 + 300 + 10 + 1)
    started = time.monotonic()
    while left > 0:
        batch = min(1000, left)

        def work(log: CaseLog, batch: int = batch) -> None:
            for _ in range(batch):
                log.append(
                    actor,
                    "exhibit.accessed",
                    exhibit=ids[rng.randrange(10)],
                    data={"purpose": "review", "range": None},
                )

        ws.committer.run(case_id, work)
        left -= batch
    print(f"  accesses appended in {time.monotonic() - started:.0f} s", flush=True)
    exported = client.post(
        f"/api/cases/{case_id}/exports",
        json={"exhibits": ids[:3], "content": False, "recipient": "Court"},
        headers=nl_pros,
    )
    export_id = exported.json().get("id") if exported.status_code in (200, 201, 202) else None
    return {"case": case_id, "exhibits": ids, "export": export_id}


def sign_in(client: TestClient, token: str) -> None:
    form = client.get("/sign-in")
    csrf = CSRF.search(form.text)
    assert csrf is not None
    answer = client.post(
        "/sign-in",
        data={"token": token, "csrf": csrf[1], "next": "/cases"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:500]


def timed(client: TestClient, path: str, rounds: int) -> tuple[list[float], list[float]]:
    """Per request: wall time, and the process's CPU time (server and test client, one
    process): on a machine shared with other work the first includes waiting for a core,
    the second does not."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        answer = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return wall, cpu


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--exhibits", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jitc-ui-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/jitc.sqlite3"
        settings = Settings(
            data_dir=Path(tmp) / "data",
            database_url=url,
            embedded=False,
            log_name=LOG_NAME,
            log_key=None,
            revocation_refresh=0.0,
        )
        engine = make_engine(settings)
        migrate.upgrade(engine)
        world = World.create(engine, audience=LOG_NAME, codes=("NL", "BE", "FR"))
        ws = Workspace.open(settings)
        try:
            app = create_app(workspace=ws)
            mount_web(app, ws, config=WebConfig(session_key=os.urandom(32)))
            with TestClient(app, base_url="http://testserver") as client:
                print(f"building: {args.exhibits} exhibits, {args.entries} entries", flush=True)
                made = build(ws, world, client, args.exhibits, args.entries)
                case, ids = made["case"], made["exhibits"]
                sign_in(client, world.token("NL", "prosecutor"))
                pages: list[tuple[str, str]] = [
                    ("case list", "/cases"),
                    ("case list, search", "/cases?q=big"),
                    ("case page", f"/cases/{case}"),
                    ("exhibit page (busy)", f"/cases/{case}/exhibits/{ids[0]}"),
                    ("exhibit page (quiet)", f"/cases/{case}/exhibits/{ids[-1]}"),
                    ("timeline, newest", f"/cases/{case}/log"),
                    ("timeline, page 400", f"/cases/{case}/log?page=400"),
                    ("timeline, by type", f"/cases/{case}/log?type=exhibit.registered"),
                    ("timeline, by exhibit", f"/cases/{case}/log?exhibit={ids[-1]}"),
                    ("timeline, by state", f"/cases/{case}/log?state=NL&page=3"),
                    ("entry and proof", f"/cases/{case}/log/{args.entries // 2}"),
                    ("notes", f"/cases/{case}/notes"),
                    ("exports", f"/cases/{case}/exports"),
                ]
                if made["export"]:
                    pages.append(("export", f"/cases/{case}/exports/{made['export']}"))
                print(
                    f"\n{'page':24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
                    f" {'CPU p50':>8} {'CPU p95':>8}"
                )
                worst = worst_cpu = 0.0
                for name, path in pages:
                    took, cpu = timed(client, path, args.rounds)
                    worst = max(worst, p95(took))
                    worst_cpu = max(worst_cpu, p95(cpu))
                    print(
                        f"{name:24} {statistics.median(took):8.1f} {p95(took):8.1f}"
                        f" {max(took):8.1f} {statistics.median(cpu):8.1f} {p95(cpu):8.1f}",
                        flush=True,
                    )
        finally:
            ws.close()
            engine.dispose()
    print(f"\nworst p95 {worst:.1f} ms, CPU {worst_cpu:.1f} ms (budget {BUDGET_MS:.0f} ms)")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {url.split(':')[0]}"
    )
    return 0 if worst <= BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
