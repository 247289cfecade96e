"""The witness state: atomic, durable, never backwards, one process, fail closed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from custody.note import Note
from tests.witness.helpers import CASE_B, CaseLog, Harness, harness
from witness.errors import StateError
from witness.state import (
    CosignedCheckpoint,
    WitnessState,
    hold_state_lock,
    origin_file_name,
)


def record(log: CaseLog, size: int) -> CosignedCheckpoint:
    return CosignedCheckpoint(Note.parse(log.note(size)))


def test_state_file_is_named_by_the_sha256_of_the_origin(tmp_path: Path) -> None:
    log = CaseLog().grow_to(3)
    state = WitnessState(tmp_path)
    state.save(record(log, 3))
    name = origin_file_name(log.origin)
    assert len(name) == 64
    assert (tmp_path / "checkpoints" / name).read_bytes() == log.note(3)
    assert stat.S_IMODE((tmp_path / "checkpoints" / name).stat().st_mode) == 0o600
    loaded = state.load(log.origin)
    assert loaded is not None
    assert loaded.size == 3


def test_never_cosigned_origin_loads_as_none(tmp_path: Path) -> None:
    assert WitnessState(tmp_path).load(CaseLog().origin) is None


def test_save_refuses_to_go_backwards(tmp_path: Path) -> None:
    log = CaseLog().grow_to(8)
    state = WitnessState(tmp_path)
    state.save(record(log, 8))
    with pytest.raises(StateError, match="refusing to record size 5 over size 8"):
        state.save(record(log, 5))
    loaded = state.load(log.origin)
    assert loaded is not None
    assert loaded.size == 8


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"\xff\xfe", b"x" * (2 << 20)])
def test_corrupt_state_file_fails_closed(tmp_path: Path, content: bytes) -> None:
    log = CaseLog().grow_to(3)
    state = WitnessState(tmp_path)
    state.path_for(log.origin).write_bytes(content)
    with pytest.raises(StateError, match="corrupt"):
        state.load(log.origin)


def test_state_file_of_another_origin_is_refused(tmp_path: Path) -> None:
    # A file copied (or renamed) over another origin's name must not pass as its state.
    log = CaseLog().grow_to(3)
    other = CaseLog(CASE_B)
    state = WitnessState(tmp_path)
    state.save(record(log, 3))
    os.replace(state.path_for(log.origin), state.path_for(other.origin))
    with pytest.raises(StateError, match="holds origin"):
        state.load(other.origin)


def test_corrupt_state_gets_500_and_no_cosignature(tmp_path: Path) -> None:
    # Treating an unreadable record as "never cosigned" would allow a rollback to 0.
    log = CaseLog().grow_to(3)
    with harness(tmp_path) as wit:
        wit.state.path_for(log.origin).write_bytes(b"torn")
        status, _, body = wit.post(log.request(0))
        assert status == 500
        assert body == b"witness error\n"
        assert wit.state.path_for(log.origin).read_bytes() == b"torn"


def test_failed_write_returns_no_cosignature_and_keeps_the_old_state(
    wit: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = CaseLog().grow_to(4)
    assert wit.post(log.request(0))[0] == 200
    before = wit.state_bytes(log.origin)

    def fail_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail_replace)
    log.grow_to(9)
    status, _, body = wit.post(log.request(4))
    assert status == 500
    assert "\u2014" not in body.decode()  # no signature line
    monkeypatch.undo()
    assert wit.state_bytes(log.origin) == before
    # No temporary file is left behind either.
    assert [p.name for p in (wit.state_dir / "checkpoints").iterdir()] == [
        origin_file_name(log.origin)
    ]


def test_new_state_is_durable_before_the_cosignature_is_returned(tmp_path: Path) -> None:
    from tests.witness.helpers import NOW, TestClient, log_key, witness_signer
    from witness.app import create_witness_app

    log = CaseLog().grow_to(6)
    seen: list[int | None] = []

    def on_persisted(checkpoint: object) -> None:
        # Read back through a fresh WitnessState, as a restarted witness would.
        loaded = WitnessState(tmp_path).load(log.origin)
        seen.append(None if loaded is None else loaded.size)

    app = create_witness_app(
        signer=witness_signer(),
        log_verifiers=[log_key()],
        state_dir=tmp_path,
        clock=lambda: NOW,
        on_persisted=on_persisted,
    )
    with TestClient(app) as client:
        assert client.post("/add-checkpoint", content=log.request(0)).status_code == 200
    assert seen == [6]


def test_atomic_write_leaves_old_or_new_never_torn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Crash between writing the temporary file and renaming it: the old record stays.
    log = CaseLog().grow_to(9)
    state = WitnessState(tmp_path)
    state.save(record(log, 4))

    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # stands for the process dying here

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        state.save(record(log, 9))
    monkeypatch.undo()
    loaded = state.load(log.origin)
    assert loaded is not None
    assert loaded.size == 4


def test_state_lock_admits_one_process_and_sweeps_temporary_files(tmp_path: Path) -> None:
    WitnessState(tmp_path)
    leftover = tmp_path / "checkpoints" / ".tmp-killed"
    leftover.write_bytes(b"half a checkpoint")
    with hold_state_lock(tmp_path):
        assert not leftover.exists()
        with (
            pytest.raises(StateError, match="in use by another witness process"),
            hold_state_lock(tmp_path),
        ):
            pass  # pragma: no cover
    with hold_state_lock(tmp_path):  # released on exit
        pass


def test_state_directory_is_private(tmp_path: Path) -> None:
    WitnessState(tmp_path / "state")
    for folder in ("state", "state/checkpoints", "state/evidence"):
        assert stat.S_IMODE((tmp_path / folder).stat().st_mode) == 0o700
