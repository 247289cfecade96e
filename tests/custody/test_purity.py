"""custody/ is the pure core a defence expert reads alone: it imports no web, database,
storage or JWT library, nor the server or evidence packages (STYLE habit 1)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import custody

FORBIDDEN = {
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "minio",
    "jose",
    "psycopg",
    "httpx",
    "socket",
    "urllib",
    "http",
    "requests",
    "server",
    "evidence",
    "sqlite3",
    "asyncio",
}
# At run time `urllib.parse` is loaded by pathlib at interpreter start; the network parts
# are what must stay out.
FORBIDDEN_LOADED = (FORBIDDEN - {"urllib", "http"}) | {"urllib.request", "http.client"}
PACKAGE = Path(custody.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_custody_sources_import_nothing_forbidden() -> None:
    assert (PACKAGE / "verify" / "walk.py") in set(PACKAGE.rglob("*.py"))  # subpackages too
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(_imports(path) & FORBIDDEN)
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_importing_custody_loads_no_forbidden_module() -> None:
    code = (
        "import sys, importlib, pkgutil, custody\n"
        "for m in pkgutil.walk_packages(custody.__path__, 'custody.'):\n"
        "    importlib.import_module(m.name)\n"
        f"names = {sorted(FORBIDDEN_LOADED)!r}\n"
        "bad = sorted(n for n in sys.modules if n in names or n.split('.')[0] in names)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
