"""evidence/ stays below the web and the database: it imports none of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_evidence_imports_no_web_database_or_server_code() -> None:
    code = (
        "import sys, evidence, evidence.fs, evidence.s3, evidence.config\n"
        "bad = sorted(m for m in sys.modules"
        " if m.split('.')[0] in {'starlette', 'sqlalchemy', 'server', 'alembic', 'uvicorn'})\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
