"""The bundle verifier on bundles that are unusual but not hostile archives: what it
accepts and which check it names (hostile archives: test_hostile_bundles.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from custody.bundle import Manifest
from custody.canonical import canonical_bytes
from custody.verify import verify_bundle
from tests.custody.golden import generator
from tests.custody.golden.generator import NL_INV, Bundle, render, standard_log


def test_selective_bundle_with_a_large_entry_verifies(tmp_path: Path) -> None:
    def extra(log: generator.LogBuilder) -> None:
        log.add(
            NL_INV,
            "note.added",
            generator.PHONE,
            {"commitment": hashlib.sha256(b"x").hexdigest(), "pad": "x" * 800_000},
        )

    bundle = Bundle(
        standard_log(extra=extra).entries,
        disclosure="selective",
        exhibits=[generator.PHONE],
        content={generator.PHONE: generator.PHONE_BYTES},
    )
    path = tmp_path / "big.zip"
    path.write_bytes(render(bundle))
    report = verify_bundle(path)
    assert report.ok, [f.message for f in report.failures()]


def test_manifest_created_in_another_format_fails_check_1(tmp_path: Path) -> None:
    members = generator.read_members((generator.GOLDEN_DIR / "valid-full.zip").read_bytes())
    manifest = Manifest.parse(members["jitc-bundle.json"])[0]
    forged = manifest.to_json()
    forged["created"] = "20 Nov 2026 10:00"
    members["jitc-bundle.json"] = canonical_bytes(forged)
    path = tmp_path / "created.zip"
    path.write_bytes(generator.write_members(members))
    report = verify_bundle(path)
    assert report.check("format").status == "fail"
    assert "created" in report.check("format").findings[0].message
