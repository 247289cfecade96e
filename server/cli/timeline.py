"""`jitc log`: a case's custody log as a timeline, one line per entry (like
`git log --oneline`): its seq, time, actor and what it means. `--json` prints the entries
themselves, canonical JSON, one per line; `--follow` keeps asking for new entries until
interrupted."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import httpx

from custody.canonical import canonical_bytes
from custody.report import visible
from server.cli.client import Session, client_command, short, size_text
from server.cli.options import client_options

DEFAULT_INTERVAL: Final = 2.0
Describe = Callable[[dict[str, Any], str], str]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    log = subparsers.add_parser(
        "log",
        description="A case's custody log, one line per entry: seq, time (UTC), actor and "
        "what happened. With --json, the entries as the log holds them (canonical JSON "
        "Lines).",
    )
    log.add_argument("case", metavar="CASE", help="the case id, or its first characters")
    log.add_argument(
        "--exhibit",
        metavar="EXHIBIT",
        help="only this exhibit's entries (id or first characters)",
    )
    log.add_argument(
        "--type",
        dest="types",
        action="append",
        metavar="TYPE",
        help="only entries of this type (e.g. exhibit.shared), or of this family (e.g. "
        "exhibit); repeatable",
    )
    log.add_argument(
        "--follow",
        action="store_true",
        help="keep printing new entries as they are logged, until Ctrl-C",
    )
    log.add_argument(
        "--interval",
        type=_seconds,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"with --follow: how often to ask for new entries (default {DEFAULT_INTERVAL:g})",
    )
    client_options(log)
    log.set_defaults(func=client_command(_log))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError("a number of seconds from 0.1 to 3600")
    return value


class Timeline:
    """Prints the entries that pass the filters; remembers every exhibit's label (from
    exhibit.registered) so that later lines can name it."""

    def __init__(self, args: argparse.Namespace, exhibit: str | None) -> None:
        self.as_json: bool = args.json
        self.exhibit = exhibit
        self.types: list[str] = args.types or []
        self.labels: dict[str, str] = {}

    def wanted(self, entry: dict[str, Any]) -> bool:
        if self.exhibit is not None and entry.get("exhibit") != self.exhibit:
            return False
        kind = str(entry.get("type", ""))
        return not self.types or any(kind == t or kind.startswith(t + ".") for t in self.types)

    def show(self, entries: Iterable[dict[str, Any]]) -> None:
        for entry in entries:
            if entry.get("type") == "exhibit.registered" and entry.get("exhibit"):
                self.labels[str(entry["exhibit"])] = str(entry.get("data", {}).get("label", ""))
            if not self.wanted(entry):
                continue
            if self.as_json:
                print(canonical_bytes(entry).decode("utf-8"))
            else:
                print(line(entry, self.labels))
        sys.stdout.flush()


def _log(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    exhibit = None if args.exhibit is None else server.exhibit(case_id, args.exhibit)
    timeline = Timeline(args, exhibit)
    entries = server.entries(case_id)
    timeline.show(entries)
    if not args.follow:
        return 0
    size = len(entries)
    lost = False
    try:
        while True:
            time.sleep(args.interval)
            try:
                new = server.entries(case_id, size)
            except httpx.TransportError as exc:
                if not lost:  # said once; asked again at the next interval
                    print(f"jitc: lost the server ({exc}); still asking", file=sys.stderr)
                lost = True
                continue
            lost = False
            timeline.show(new)
            size += len(new)
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how --follow ends


# --- one line per entry ---------------------------------------------------------------------


def line(entry: dict[str, Any], labels: dict[str, str]) -> str:
    when = str(entry.get("time", ""))
    shown_time = when[:19].replace("T", " ") if len(when) >= 19 else when
    return (
        f"{entry.get('seq', '?'):>5}  {shown_time}  {actor(entry.get('actor'))}  "
        f"{meaning(entry, labels)}"
    )


def actor(doc: Any) -> str:
    if not isinstance(doc, dict):
        return "?"
    if doc.get("role") == "system":
        return "system"
    who = visible(str(doc.get("sub", "?")), limit=40)
    return f"{visible(str(doc.get('jurisdiction', '?')), limit=10)}/{who} ({doc.get('role')})"


def _quoted(text: Any, limit: int = 60) -> str:
    return '"' + visible(str(text), limit=limit) + '"'


def _exhibit(entry: dict[str, Any], labels: dict[str, str]) -> str:
    exhibit = str(entry.get("exhibit") or "")
    label = labels.get(exhibit)
    return short(exhibit) + ("" if label is None else f" {_quoted(label, 40)}")


def _states(codes: Any) -> str:
    return ", ".join(str(code) for code in codes) if isinstance(codes, list) else "?"


def _policy(text: Any) -> str:
    """A case.policy_set in words: its witnesses and how many must cosign. The server's
    policies have one group of all witnesses (`group witnesses K NAMES...`, K a number or
    `all`) and name it as the quorum; any other shape is shown as its quorum line."""
    lines = str(text).splitlines()
    witnesses = [line.split()[1] for line in lines if line.startswith("witness ")]
    quorum = next((line.split(maxsplit=1)[1] for line in lines if line.startswith("quorum ")), "?")
    if not witnesses:
        return "no witnesses (checkpoints rest on the log key alone)"
    groups = {g[1]: g[2] for line in lines if len(g := line.split()) > 2 and g[0] == "group"}
    need = groups.get(quorum)
    if need == "all":
        needed = f"all {len(witnesses)} must cosign"
    elif need is not None:
        needed = f"{visible(need, limit=10)} of {len(witnesses)} must cosign"
    else:
        needed = f"quorum {visible(quorum, limit=40)}"
    return f"witnesses {', '.join(visible(w, limit=40) for w in witnesses)}; {needed}"


def _conditions(data: dict[str, Any]) -> str:
    conditions = data.get("conditions")
    return f" (conditions: {visible(str(conditions), limit=80)})" if conditions else ""


def _grant(data: dict[str, Any]) -> str:
    exhibits = data.get("exhibits")
    scope = "" if exhibits is None else " to exhibits " + ", ".join(short(str(x)) for x in exhibits)
    who = f"{data.get('role')} {data.get('jurisdiction')}/{visible(str(data.get('sub')), limit=40)}"
    return who + scope


def _range(data: dict[str, Any]) -> str:
    span = data.get("range")
    if isinstance(span, list) and len(span) == 2:
        return f" (bytes {span[0]}-{span[1]})"
    return ""


_MEANINGS: Final[dict[str, Describe]] = {
    "case.created": lambda d, x: (
        f"opened case {_quoted(d.get('title'))}: parties {_states(d.get('parties'))}"
        + (f"; agreement {visible(str(d['agreement']), limit=40)}" if d.get("agreement") else "")
    ),
    "case.party_proposed": lambda d, x: f"proposed {d.get('jurisdiction')} as a party",
    "case.party_approved": lambda d, x: f"consented to proposal {d.get('proposal')}",
    "case.party_added": lambda d, x: (
        f"{d.get('jurisdiction')} is a party"
        + (f" (proposal {d['proposal']})" if d.get("proposal") is not None else "")
    ),
    "case.party_removed": lambda d, x: f"{d.get('jurisdiction')} is no longer a party",
    "case.access_granted": lambda d, x: f"granted {_grant(d)}",
    "case.access_revoked": lambda d, x: f"revoked the grant of {_grant(d)}",
    "case.policy_set": lambda d, x: f"witness policy: {_policy(d.get('policy', ''))}",
    "exhibit.registered": lambda d, x: f"registered exhibit {x} (owner {d.get('owner')})",
    "exhibit.ingested": lambda d, x: (
        f"stored the content of {x}: {size_text(int(d.get('size') or 0))}, "
        f"sha256 {str(d.get('sha256'))[:16]}…"
    ),
    "exhibit.ingest_rejected": lambda d, x: (
        f"refused content for {x}: {visible(str(d.get('reason')), limit=80)}"
    ),
    "exhibit.accessed": lambda d, x: f"read {x} for {_quoted(d.get('purpose'), 60)}{_range(d)}",
    "exhibit.verified": lambda d, x: (
        f"re-verified {x}: {'intact' if d.get('ok') else 'ALTERED OR MISSING'}"
    ),
    "exhibit.shared": lambda d, x: f"shared {x} with {d.get('jurisdiction')}{_conditions(d)}",
    "exhibit.share_revoked": lambda d, x: f"stopped sharing {x} with {d.get('jurisdiction')}",
    "exhibit.sealed": lambda d, x: f"sealed {x}: {visible(str(d.get('reason')), limit=80)}",
    "exhibit.hold_set": lambda d, x: (
        f"put {x} under legal hold: {visible(str(d.get('reason')), limit=80)}"
        + (f" ({visible(str(d['authority']), limit=60)})" if d.get("authority") else "")
    ),
    "exhibit.hold_released": lambda d, x: (
        "released the hold"
        + (f" {d['hold']}" if d.get("hold") is not None else "")
        + f" on {x}: {visible(str(d.get('reason')), limit=80)}"
    ),
    "exhibit.disposed": lambda d, x: (
        f"disposed of {x}: {visible(str(d.get('reason')), limit=80)} "
        f"({visible(str(d.get('authority')), limit=60)})"
    ),
    "note.added": lambda d, x: "added a note" + (f" on {x}" if x else ""),
    "export.created": lambda d, x: (
        f"exported a {d.get('disclosure')} bundle for {_quoted(d.get('recipient'), 60)} "
        f"({len(d.get('exhibits') or [])} exhibits, sha256 {str(d.get('bundle_sha256'))[:16]}…)"
    ),
}


def meaning(entry: dict[str, Any], labels: dict[str, str]) -> str:
    data = entry.get("data")
    data = data if isinstance(data, dict) else {}
    exhibit = _exhibit(entry, labels) if entry.get("exhibit") else ""
    kind = str(entry.get("type", ""))
    describe = _MEANINGS.get(kind)
    if describe is None:  # spec 2.1: new types may be added; shown as they are
        return f"{visible(kind, limit=60)} {visible(canonical_bytes(data).decode(), limit=120)}"
    return describe(data, exhibit)
