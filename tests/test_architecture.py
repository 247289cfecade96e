"""The arrows between our packages run one way (docs/architecture.md, "Layout").

Every module of custody/, evidence/, witness/ and server/ is parsed (ast) and each
import it makes, at the top or inside a function, is held against the rules below. A new
module is checked as soon as it exists; a rule broken names the module and the import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("custody", "evidence", "witness", "server")
OURS = frozenset({*PACKAGES, "migrations", "bench", "tests"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The modules of ours that `path` imports: for `from a.b import c`, `a.b.c` if that is
    a module of ours, else `a.b`."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_our_module(candidate) else base)
    return {name for name in found if name.split(".")[0] in OURS}


def _is_our_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


MODULES = {
    _module_name(path): _imports(path)
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
}


@dataclass(frozen=True)
class Rule:
    """Modules under `subject` (with `alone`, the module `subject` itself) may import, of
    ours, only what is under `only` (when given) and nothing under `never`."""

    subject: str
    why: str
    only: tuple[str, ...] | None = None
    never: tuple[str, ...] = ()
    alone: bool = False

    def broken_by(self, imported: str) -> bool:
        if any(_under(imported, prefix) for prefix in self.never):
            return True
        return self.only is not None and not any(_under(imported, p) for p in self.only)


RULES = (
    Rule("custody", "the pure core a defence expert reads alone", only=("custody",)),
    Rule("evidence", "object storage knows nothing of cases, logs or HTTP", only=("evidence",)),
    Rule("witness", "a state's witness runs without the server", only=("witness", "custody")),
    Rule("server.cli.verify", "the verifier stands alone", only=("custody",)),
    Rule(
        "server.cli",
        "the front door imports a command's module only when it runs (by name)",
        only=(),
        alone=True,
    ),
    Rule("server.__main__", "python -m server is the front door", only=("server.cli",)),
    Rule(
        "server",
        "the server speaks to a witness through the wire format and its errors only",
        never=("witness.app", "witness.cli", "witness.keys", "witness.logs", "witness.service"),
    ),
    Rule(
        "server",
        "nothing of the server reaches back into the command line, tests or benchmarks",
        never=("tests", "bench"),
    ),
    Rule(
        "server.api",
        "routes parse and call services; rows and tables are the services' business",
        never=("server.repositories", "server.models"),
    ),
    Rule(
        "server.services",
        "services decide; they know no HTTP, app, runtime or command line",
        never=("server.api", "server.app", "server.runtime", "server.cli", "server.web"),
    ),
    Rule(
        "server.repositories",
        "repositories hold queries; they call no service or route",
        never=("server.services", "server.api", "server.runtime", "server.app", "server.cli"),
    ),
    Rule(
        "server.runtime",
        "background work is started by the app, not by the routes it serves",
        never=("server.api", "server.app", "server.cli"),
    ),
    Rule(
        "server.cli",
        "the command line needs no HTTP routes or pages, and asks services, not tables",
        never=("server.api", "server.app", "server.web", "server.repositories", "server.models"),
    ),
    Rule(
        "server.api",
        "the API takes the workspace's session through an injected door, never from page code",
        never=("server.web",),
    ),
    Rule(
        "server.web",
        "pages call services (and reuse the API's request parsers); rows are the services'",
        never=("server.repositories", "server.models", "server.runtime"),
    ),
)


def _subjects(rule: Rule) -> list[str]:
    if rule.alone:
        return [name for name in MODULES if name == rule.subject]
    return [name for name in MODULES if _under(name, rule.subject)]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.subject}: {r.why}")
def test_imports_follow_the_rule(rule: Rule) -> None:
    subjects = _subjects(rule)
    assert subjects, f"no module under {rule.subject}: the rule checks nothing"
    broken = {
        module: sorted(name for name in MODULES[module] if rule.broken_by(name))
        for module in subjects
    }
    assert {module: names for module, names in broken.items() if names} == {}


def test_the_import_reader_sees_what_a_module_imports() -> None:
    # The rules are only as good as this reader: spot-check it on modules we know.
    assert "custody.note" in MODULES["witness.state"]
    assert "server.services.content" in MODULES["server.api.content"]  # from x import module
    assert "server.api.errors" in MODULES["server.app"]
    assert "witness.protocol" in MODULES["server.services.witness_client"]


def test_a_broken_rule_is_reported() -> None:
    rule = Rule("server.api", "example", never=("server.repositories",))
    assert rule.broken_by("server.repositories.cases")
    assert not rule.broken_by("server.services.cases")
    only = Rule("witness", "example", only=("witness", "custody"))
    assert only.broken_by("server.errors")
    assert not only.broken_by("custody.note")


MAX_LINES = 600
# A module may be longer only if its docstring says why it must stay one file.
ONE_FILE_REASON = "must be one file"


def test_no_source_module_is_over_600_lines_without_saying_why() -> None:
    """A module past 600 lines mixes concerns more often than not (docs/architecture.md):
    cut it at a seam, or say in its first comment why it must be one file."""
    long = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = text.count("\n")
            if lines <= MAX_LINES:
                continue
            doc = ast.get_docstring(ast.parse(text)) or ""
            if ONE_FILE_REASON not in " ".join(doc.split()):
                long[str(path.relative_to(ROOT))] = lines
    assert long == {}
