"""`jitc upload`, `jitc download` and `jitc scrub`, on both databases and both stores.

The client commands talk to the app through Starlette's test client (an httpx.Client);
`scrub` reads its settings from the environment, as on a server host.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from evidence import exhibit_key
from server.app import create_app
from server.cli import download, main, upload
from server.cli.client import Api
from server.cli.guard import CommandError
from server.cli.transfer import locked_partial
from server.services.workspace import Workspace
from tests.evidence.support import Harness, MiB, pattern
from tests.server.conftest import LOG_NAME
from tests.server.helpers import World, create_case, register_exhibit
from tests.server.test_content import entries
from tests.server.testclient import TestClient

Scene = tuple[TestClient, World, str, str]


@pytest.fixture
def scene(
    content_client: TestClient,
    world: World,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Scene:
    app = create_app(workspace=workspace)

    def client(self: Api) -> httpx.Client:
        return TestClient(app, headers={"Authorization": f"Bearer {self.token}"})

    monkeypatch.setattr(Api, "client", client)
    monkeypatch.setenv("JITC_SERVER", "http://testserver")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    case_id = create_case(content_client, world)
    exhibit_id = register_exhibit(content_client, world, case_id)
    return content_client, world, case_id, exhibit_id


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_upload_then_download_compare_hashes_both_ways(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(3 * MiB + 7)
    source = tmp_path / "image.dd"
    source.write_bytes(data)
    monkeypatch.setenv("JITC_TOKEN", world.token("NL", "technician"))
    code, _, err = run(
        capsys, "upload", case_id, exhibit_id, str(source), "--chunk-size", "1048576"
    )
    assert code == 0, err
    assert hashlib.sha256(data).hexdigest() in err
    assert "uploading" in err  # the progress line: bytes, rate and time
    assert "/s" in err
    monkeypatch.setenv("JITC_TOKEN", world.token("NL", "investigator"))
    out = tmp_path / "copy.dd"
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out), "--purpose", "analysis")
    assert code == 0, err
    assert out.read_bytes() == data
    assert not out.with_name("copy.dd.part").exists()
    accessed = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.accessed"]
    assert accessed[-1]["data"] == {"purpose": "analysis", "range": None}


def test_upload_resumes_after_the_connection_breaks(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(4 * MiB)
    source = tmp_path / "phone.bin"
    source.write_bytes(data)
    monkeypatch.setenv("JITC_TOKEN", world.token("NL", "technician"))
    real_chunks = upload._file_chunks
    calls = {"n": 0}

    def breaking(*args: Any) -> Iterator[bytes]:
        calls["n"] += 1
        if calls["n"] == 3:  # the third PATCH: the connection drops before its first byte
            raise httpx.WriteError("connection reset by peer")
        yield from real_chunks(*args)

    monkeypatch.setattr(upload, "_file_chunks", breaking)
    monkeypatch.setattr(upload, "RETRIES", 0)  # the first run gives up: a re-run resumes
    monkeypatch.setattr("server.cli.upload.time.sleep", lambda _s: None)
    code, _, err = run(
        capsys, "upload", case_id, exhibit_id, str(source), "--chunk-size", "1048576"
    )
    assert code == 1
    assert "interrupted" in err
    state = list((tmp_path / "cache" / "jitc" / "uploads").glob("*.json"))
    assert len(state) == 1
    assert json.loads(state[0].read_text())["location"].startswith("/api/cases/")
    code, _, err = run(
        capsys, "upload", case_id, exhibit_id, str(source), "--chunk-size", "1048576"
    )
    assert code == 0, err
    assert "resuming at 2.0 MiB" in err
    assert not state[0].exists()
    ingested = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.ingested"]
    assert ingested[0]["data"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert ingested[0]["data"]["filename"] == "phone.bin"


def test_download_of_altered_storage_fails_loudly_and_keeps_nothing(
    scene: Scene,
    evidence: Harness,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    _client, world, case_id, exhibit_id = scene
    source = tmp_path / "doc.pdf"
    source.write_bytes(pattern(20_000))
    monkeypatch.setenv("JITC_TOKEN", world.token("NL", "technician"))
    assert run(capsys, "upload", case_id, exhibit_id, str(source))[0] == 0
    evidence.tamper(exhibit_key(case_id, exhibit_id), 100)
    monkeypatch.setenv("JITC_TOKEN", world.token("NL", "investigator"))
    out = tmp_path / "out.pdf"
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 1
    assert "HASH MISMATCH" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert not out.with_name("out.pdf.part").exists()
    assert not out.with_name("out.pdf.part.json").exists()


def _uploaded(
    scene: Scene, capsys: pytest.CaptureFixture[str], monkeypatch: Any, source: Path, data: bytes
) -> bytes:
    """Write `data` to `source` and `jitc upload` it as the technician; the investigator's
    token is set afterwards. Returns `data`."""
    _client, world, case_id, exhibit_id = scene
    source.write_bytes(data)
    monkeypatch.setenv("JITC_TOKEN", world.token("NL", "technician"))
    code, _, err = run(capsys, "upload", case_id, exhibit_id, str(source))
    assert code == 0, err
    monkeypatch.setenv("JITC_TOKEN", world.token("NL", "investigator"))
    return data


def _breaking_once(monkeypatch: Any, after_chunks: int = 1) -> dict[str, int]:
    """The first response body breaks off after `after_chunks` chunks (a dropped link)."""
    real = download._body_chunks
    calls = {"n": 0}

    def breaking(response: httpx.Response) -> Iterator[bytes]:
        calls["n"] += 1
        received = list(real(response))  # the in-process server finishes its response
        for i, chunk in enumerate(received):
            if calls["n"] == 1 and i == after_chunks:
                raise httpx.ReadError("connection reset by peer")
            yield chunk
        if calls["n"] == 1 and after_chunks == len(received):  # after the last byte
            raise httpx.ReadError("connection reset by peer")

    monkeypatch.setattr(download, "_body_chunks", breaking)
    monkeypatch.setattr("server.cli.download.time.sleep", lambda _s: None)
    return calls


def test_download_resumes_in_a_second_run_after_the_connection_breaks(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    client, world, case_id, exhibit_id = scene
    data = _uploaded(scene, capsys, monkeypatch, tmp_path / "disk.img", pattern(3 * MiB + 11))
    _breaking_once(monkeypatch)
    monkeypatch.setattr(download, "RETRIES", 0)  # the first run gives up
    out = tmp_path / "copy.img"
    part, marker = out.with_name("copy.img.part"), out.with_name("copy.img.part.json")

    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out), "--purpose", "review")
    assert code == 1
    assert "interrupted" in err
    assert "Traceback" not in err
    assert not out.exists()
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    assert part.read_bytes() == data[:kept]
    assert json.loads(marker.read_text())["sha256"] == hashlib.sha256(data).hexdigest()

    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out), "--purpose", "review")
    assert code == 0, err
    assert "resuming at" in err
    assert out.read_bytes() == data
    assert not part.exists()
    assert not marker.exists()
    accessed = [
        e["data"] for e in entries(client, world, case_id) if e["type"] == "exhibit.accessed"
    ]
    assert accessed == [
        {"purpose": "review", "range": None},  # the broken first request
        {"purpose": "review", "range": [kept, len(data) - 1]},  # the resumed rest
    ]


def test_download_retries_a_broken_connection_within_one_run(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    client, world, case_id, exhibit_id = scene
    data = _uploaded(scene, capsys, monkeypatch, tmp_path / "phone.bin", pattern(2 * MiB + 3))
    calls = _breaking_once(monkeypatch)
    out = tmp_path / "phone.copy"
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 0, err
    assert calls["n"] == 2
    assert out.read_bytes() == data
    ranges = [
        e["data"]["range"]
        for e in entries(client, world, case_id)
        if e["type"] == "exhibit.accessed"
    ]
    assert ranges[0] is None
    assert ranges[1][1] == len(data) - 1
    assert 0 < ranges[1][0] < len(data)


def test_a_part_file_of_another_download_is_not_resumed(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    _client, _world, case_id, exhibit_id = scene
    data = _uploaded(scene, capsys, monkeypatch, tmp_path / "a.bin", pattern(100_000))
    out = tmp_path / "a.copy"
    part, marker = out.with_name("a.copy.part"), out.with_name("a.copy.part.json")
    part.write_bytes(b"not these bytes" * 100)
    marker.write_text(json.dumps({"case": case_id, "exhibit": "another", "sha256": "0" * 64}))
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 0, err
    assert "resuming" not in err
    assert out.read_bytes() == data
    # Without a marker, a .part file is not trusted either.
    out.unlink()
    part.write_bytes(data[:500])
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 0, err
    assert "resuming" not in err
    assert out.read_bytes() == data


def test_a_complete_part_file_is_checked_without_fetching_again(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    client, world, case_id, exhibit_id = scene
    data = _uploaded(scene, capsys, monkeypatch, tmp_path / "b.bin", pattern(300_000))
    out = tmp_path / "b.copy"
    # A first run that got every byte but broke before the check (e.g. killed).
    _breaking_once(monkeypatch, after_chunks=10**6)
    assert run(capsys, "download", case_id, exhibit_id, str(out))[0] == 0
    data_copy = out.read_bytes()
    out.rename(out.with_name("b.copy.part"))
    marker = out.with_name("b.copy.part.json")
    marker.write_text(
        json.dumps(
            {
                "server": "http://testserver",
                "case": case_id,
                "exhibit": exhibit_id,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            },
            sort_keys=True,
        )
    )
    before = len(entries(client, world, case_id))
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 0, err
    assert out.read_bytes() == data_copy == data
    assert len(entries(client, world, case_id)) == before  # nothing fetched, nothing logged


def _interrupted_download(
    scene: Scene,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: Any,
    *,
    name: str,
    size: int,
) -> tuple[bytes, Path, Path]:
    """Upload `size` bytes, then a download run that breaks off and gives up (exit 1).
    Returns the content, OUT and OUT.part."""
    _client, _world, case_id, exhibit_id = scene
    data = _uploaded(scene, capsys, monkeypatch, tmp_path / f"{name}.bin", pattern(size))
    _breaking_once(monkeypatch)
    monkeypatch.setattr(download, "RETRIES", 0)
    out = tmp_path / f"{name}.copy"
    assert run(capsys, "download", case_id, exhibit_id, str(out))[0] == 1
    return data, out, out.with_name(f"{name}.copy.part")


def test_a_tampered_part_file_fails_the_check_and_is_removed(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    _client, _world, case_id, exhibit_id = scene
    _data, out, part = _interrupted_download(
        scene, capsys, tmp_path, monkeypatch, name="c", size=2 * MiB
    )
    altered = bytearray(part.read_bytes())
    altered[7] ^= 0xFF  # the local partial copy was altered between the runs
    part.write_bytes(bytes(altered))
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 1
    assert "HASH MISMATCH" in err
    assert not out.exists()
    assert not part.exists()
    assert not out.with_name("c.copy.part.json").exists()


def test_a_break_after_the_last_byte_needs_no_more_requests(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    client, world, case_id, exhibit_id = scene
    data = _uploaded(
        scene, capsys, monkeypatch, tmp_path / "d.bin", pattern(2 * MiB)
    )  # a whole number of read chunks
    calls = _breaking_once(monkeypatch, after_chunks=2)  # 2 chunks of 1 MiB, then the break
    out = tmp_path / "d.copy"
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 0, err
    assert calls["n"] == 1  # no ranged request for zero bytes (it would be a 416)
    assert out.read_bytes() == data
    accessed = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.accessed"]
    assert len(accessed) == 1


def test_a_second_download_into_the_same_file_is_refused(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    _client, _world, case_id, exhibit_id = scene
    data = _uploaded(scene, capsys, monkeypatch, tmp_path / "e.bin", pattern(50_000))
    out = tmp_path / "e.copy"
    part = out.with_name("e.copy.part")
    part.write_bytes(b"another run's bytes")
    with part.open("r+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # a first download still running
        code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
        assert code == 1
        assert "another download is writing e.copy.part" in err
        assert part.read_bytes() == b"another run's bytes"  # untouched
    assert not out.exists()
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 0, err
    assert out.read_bytes() == data


def test_a_part_file_renamed_away_while_locking_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run B opens OUT.part just before run A, finished, renames it to OUT; B then gets
    the lock of what is now OUT. B must open the name again, never write into OUT."""
    partial = tmp_path / "g.copy.part"
    out = tmp_path / "g.copy"
    partial.write_bytes(b"verified evidence")
    real_open = os.open
    opened = {"n": 0}

    def open_then_rename(path: Any, flags: int, mode: int = 0o777) -> int:
        fd = real_open(path, flags, mode)
        opened["n"] += 1
        if opened["n"] == 1:
            os.replace(partial, out)  # run A ends between B's open and B's lock
        return fd

    monkeypatch.setattr("server.cli.download.os.open", open_then_rename)
    with locked_partial(partial) as f:  # download's partial file (server/cli/transfer.py)
        f.write(b"run B")
        f.flush()
        assert os.fstat(f.fileno()).st_ino != os.stat(out).st_ino
    assert opened["n"] == 2
    assert out.read_bytes() == b"verified evidence"
    assert partial.read_bytes() == b"run B"


def test_a_refusal_on_resume_keeps_the_partial_copy(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    _client, _world, case_id, exhibit_id = scene
    data, out, part = _interrupted_download(
        scene, capsys, tmp_path, monkeypatch, name="f", size=3 * MiB
    )
    kept = part.read_bytes()
    assert kept

    def unavailable(response: httpx.Response, offset: int, recorded: Any) -> int:
        raise CommandError("downloading the content: 503 storage_unavailable")

    accept = download._accept_body
    monkeypatch.setattr(download, "_accept_body", unavailable)  # a failure path: the store is down
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 1
    assert "f.copy.part kept" in err
    assert part.read_bytes() == kept
    assert out.with_name("f.copy.part.json").exists()
    monkeypatch.setattr(download, "_accept_body", accept)
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 0, err
    assert "resuming at" in err
    assert out.read_bytes() == data


def test_an_empty_exhibit_downloads_as_an_empty_file(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    client, world, case_id, exhibit_id = scene
    _uploaded(scene, capsys, monkeypatch, tmp_path / "empty", b"")
    out = tmp_path / "empty.copy"
    code, _, err = run(capsys, "download", case_id, exhibit_id, str(out))
    assert code == 0, err
    assert out.read_bytes() == b""
    accessed = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.accessed"]
    assert len(accessed) == 1


def test_upload_refused_by_the_server_is_one_line_and_exit_1(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    _client, world, case_id, exhibit_id = scene
    source = tmp_path / "x.bin"
    source.write_bytes(b"x")
    monkeypatch.setenv("JITC_TOKEN", world.token("DE", "technician"))  # not the owner
    code, _, err = run(capsys, "upload", case_id, exhibit_id, str(source))
    assert code == 1
    assert err.count("\n") == 2  # the hashing progress line, then the error
    assert "403" in err
    assert "Traceback" not in err


def test_a_missing_token_is_exit_2_and_the_server_has_a_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("JITC_SERVER", raising=False)
    monkeypatch.delenv("JITC_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no `jitc login` token
    source = tmp_path / "x"
    source.write_bytes(b"x")
    code, _, err = run(capsys, "upload", "c", "e", str(source))
    assert code == 2
    assert "JITC_TOKEN" in err
    assert "jitc login" in err
    assert "http://127.0.0.1:8000" in err  # the server every client command falls back to


def test_scrub_verifies_every_exhibit_and_fails_on_tampering(
    scene: Scene,
    evidence: Harness,
    workspace: Workspace,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    client, world, case_id, exhibit_id = scene
    second = register_exhibit(client, world, case_id, label="Phone")
    for exhibit, size in ((exhibit_id, 1000), (second, 2000)):
        response = client.put(
            f"/api/cases/{case_id}/exhibits/{exhibit}/content",
            content=pattern(size),
            headers=world.headers("NL", "technician"),
        )
        assert response.status_code == 201
    settings = workspace.settings
    monkeypatch.setenv("JITC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("JITC_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("JITC_LOG_NAME", LOG_NAME)
    _use_store(monkeypatch, evidence)
    code, out, err = run(capsys, "scrub")
    assert code == 0, err
    assert "2 exhibits checked, 2 intact" in out
    evidence.tamper(exhibit_key(case_id, second), 5)
    code, out, err = run(capsys, "scrub")
    assert code == 1
    assert "STORAGE ALTERED" in err
    assert second in err
    assert "1 altered" in out
    verified = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.verified"]
    assert len(verified) == 4
    assert [e["actor"]["sub"] for e in verified] == ["system"] * 4
    assert sorted(e["data"]["ok"] for e in verified) == [False, True, True, True]


def _use_store(monkeypatch: Any, evidence: Harness) -> None:
    """Point `jitc scrub`'s workspace at the store under test."""
    real_open = Workspace.open

    def opened(settings: Any, **kwargs: Any) -> Workspace:
        ws = real_open(settings, **kwargs)
        ws.use_store(evidence.make())
        return ws

    monkeypatch.setattr(Workspace, "open", opened)
