"""Tampering on the end-to-end setup (PostgreSQL, the S3 store, two witness processes):
a new version of a stored object in S3, then a deleted custody row. Each time the next
export refuses, saying why, and `jitc audit` names what is wrong."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from server.cli import main as jitc
from tests.evidence.support import MotoServer
from tests.server.helpers import ACQUISITION
from tests.server.test_e2e import Setup, _witnessed, setup, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]
__all__ = ["setup"]  # the fixture, shared with test_e2e

FULL = {"exhibits": None, "disclosure": "full", "content": True, "recipient": "court"}


def test_object_version_and_deleted_row(
    setup: Setup,
    moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("JITC_STORE_URL", "JITC_S3_ACCESS_KEY", "JITC_S3_SECRET_KEY"):
        monkeypatch.setenv(name, setup.env[name])
    prosecutor = setup.headers("NL", "prosecutor")
    case_id = setup.api(
        "POST",
        "/api/cases",
        json={"title": "T", "parties": ["NL", "DE"], "agreement": ""},
        headers=prosecutor,
    ).json()["id"]
    exhibit_id = setup.api(
        "POST",
        f"/api/cases/{case_id}/exhibits",
        json={"label": "Disk", "description": "", "acquisition": dict(ACQUISITION)},
        headers=setup.headers("NL", "investigator"),
    ).json()["id"]
    uploaded = setup.api(
        "PUT",
        f"/api/cases/{case_id}/exhibits/{exhibit_id}/content?filename=disk.img",
        content=b"original bytes " * 5000,
        headers={**setup.headers("NL", "technician"), "Content-Type": "application/octet-stream"},
    )
    assert uploaded.status_code == 201, uploaded.text
    wait_for(lambda: _witnessed(setup, case_id), "cosignatures")
    assert (
        setup.api(
            "POST", f"/api/cases/{case_id}/exports", json=FULL, headers=prosecutor
        ).status_code
        == 201
    )
    capsys.readouterr()
    assert jitc(["audit", case_id]) == 0, capsys.readouterr()

    # 1. Someone with the bucket's credentials writes a new version of the object.
    bucket = urlsplit(setup.env["JITC_STORE_URL"]).path.strip("/")
    key = f"cases/{case_id}/exhibits/{exhibit_id}"
    forged = b"forged bytes!! " * 5000
    moto_server.client().put_object(bucket, key, io.BytesIO(forged), len(forged))
    refused = setup.api("POST", f"/api/cases/{case_id}/exports", json=FULL, headers=prosecutor)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "export_failed_verification"
    assert f"exhibit {exhibit_id}" in refused.json()["error"]["message"]
    capsys.readouterr()
    assert jitc(["audit", case_id]) == 1
    out = capsys.readouterr().out
    assert f"ERROR object {key}: stored bytes" in out

    # 2. Someone with database access deletes a custody row.
    engine = create_engine(setup.env["JITC_DATABASE_URL"])
    try:
        with engine.begin() as conn:
            conn.execute(
                text("DELETE FROM log_entries WHERE case_id = :c AND seq = 2"), {"c": case_id}
            )
    finally:
        engine.dispose()
    hashes_only = {**FULL, "content": False}
    refused = setup.api(
        "POST", f"/api/cases/{case_id}/exports", json=hashes_only, headers=prosecutor
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "log_damaged"
    assert jitc(["audit", case_id]) == 1
    out = capsys.readouterr().out
    assert "ERROR entry 3: expected seq 2: entries 2..2 are missing" in out
