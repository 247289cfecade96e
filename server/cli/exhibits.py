"""`jitc exhibit` (list, show, add, seal, hold, release, verify, dispose), `jitc share`,
`jitc unshare` and `jitc note`: a case's exhibits and what is done to them.

A case and an exhibit may be named by the first characters of their ids; each command is
one or two API calls (docs/cli.md lists them with their `--json` output).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from typing import Any, Final

from custody.report import visible
from server.cli.client import (
    RefusedError,
    Session,
    client_command,
    print_json,
    short,
    size_text,
    state_code,
    table,
)
from server.cli.guard import CommandError
from server.cli.options import client_options

_HASH_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_FIELD_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RESERVED_FIELDS: Final = frozenset({"tool", "operator", "time", "hashes"})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    exhibit = subparsers.add_parser(
        "exhibit",
        description="A case's exhibits: list, show and register them, and seal, hold, "
        "release, re-verify or dispose of one. Cases and exhibits may be named by the "
        "first characters of their ids.",
    )
    commands = exhibit.add_subparsers(dest="exhibit_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="a case's exhibits, their content and state")
    _case(listing)
    client_options(listing)
    listing.set_defaults(func=client_command(_list))

    show = commands.add_parser(
        "show", help="one exhibit: acquisition, stored content, state, shares"
    )
    _exhibit(show)
    client_options(show)
    show.set_defaults(func=client_command(_show))

    add = commands.add_parser(
        "add",
        help="register an exhibit (investigators, technicians; your state owns it)",
        description="Register an exhibit and how it was acquired (exhibit.registered); "
        "upload its content with jitc upload.",
    )
    _case(add)
    add.add_argument("label", metavar="LABEL", help="its label, e.g. 'NL-001 handset'")
    add.add_argument("--description", default="", metavar="TEXT", help="what it is")
    add.add_argument(
        "--tool", required=True, metavar="TOOL", help="acquisition tool, e.g. 'UFED 7.70'"
    )
    add.add_argument("--operator", required=True, metavar="WHO", help="who acquired it")
    add.add_argument(
        "--time",
        required=True,
        type=_rfc3339,
        metavar="TIME",
        help="when it was acquired, RFC 3339 with a zone, e.g. 2026-11-27T09:00:00Z",
    )
    add.add_argument(
        "--hash",
        dest="hashes",
        action="append",
        default=[],
        type=_hash,
        metavar="ALG=HEX",
        help="a hash the acquisition tool computed, e.g. sha256=ab12... (repeatable)",
    )
    add.add_argument(
        "--field",
        dest="fields",
        action="append",
        default=[],
        type=_field,
        metavar="NAME=VALUE",
        help="another acquisition field, e.g. location=Utrecht (repeatable)",
    )
    client_options(add)
    add.set_defaults(func=client_command(_add))

    seal = commands.add_parser("seal", help="seal an exhibit (its owner state)")
    _exhibit(seal)
    _reason(seal, "why it is sealed")
    client_options(seal)
    seal.set_defaults(func=client_command(_seal))

    hold = commands.add_parser(
        "hold", help="put an exhibit under legal hold (prosecutors, granted judges)"
    )
    _exhibit(hold)
    _reason(hold, "why it is held")
    hold.add_argument(
        "--authority",
        required=True,
        metavar="ORDER",
        help="the order or decision the hold rests on",
    )
    client_options(hold)
    hold.set_defaults(func=client_command(_hold))

    release = commands.add_parser(
        "release", help="release a legal hold (the state, and role, that set it)"
    )
    _exhibit(release)
    _reason(release, "why it is released")
    release.add_argument(
        "--hold",
        type=int,
        metavar="SEQ",
        help="the hold to release (its entry's seq; default: the one open hold)",
    )
    client_options(release)
    release.set_defaults(func=client_command(_release))

    verify = commands.add_parser(
        "verify",
        help="have the server re-read the stored content and check its hashes",
        description="The server re-reads the stored content, recomputes SHA-256 and "
        "BLAKE3 and logs exhibit.verified. Exit 1 when the content is altered or missing.",
    )
    _exhibit(verify)
    client_options(verify)
    verify.set_defaults(func=client_command(_verify))

    dispose = commands.add_parser(
        "dispose", help="dispose of an exhibit's content (its owner state's prosecutor)"
    )
    _exhibit(dispose)
    _reason(dispose, "why it is disposed of")
    dispose.add_argument(
        "--authority", required=True, metavar="ORDER", help="who ordered the disposal"
    )
    client_options(dispose)
    dispose.set_defaults(func=client_command(_dispose))

    share = subparsers.add_parser(
        "share",
        description="Share an exhibit with another party state (its owner state; logged "
        "as exhibit.shared).",
    )
    _exhibit(share)
    share.add_argument(
        "--with", dest="code", required=True, type=state_code, metavar="CODE", help="the state"
    )
    share.add_argument(
        "--conditions", default="", metavar="TEXT", help="limits on its use, e.g. 'JIT only'"
    )
    client_options(share)
    share.set_defaults(func=client_command(_share))

    unshare = subparsers.add_parser(
        "unshare",
        description="Stop sharing an exhibit with a state (logged as exhibit.share_revoked).",
    )
    _exhibit(unshare)
    unshare.add_argument(
        "--with", dest="code", required=True, type=state_code, metavar="CODE", help="the state"
    )
    client_options(unshare)
    unshare.set_defaults(func=client_command(_unshare))

    note = subparsers.add_parser(
        "note",
        description="Add a note to a case, or to one of its exhibits (logged as note.added; "
        "the text stays in the workspace).",
    )
    _case(note)
    note.add_argument("text", metavar="TEXT", help="the note ('-': read it from stdin)")
    note.add_argument(
        "--exhibit", metavar="EXHIBIT", help="the exhibit it is about (id or first characters)"
    )
    client_options(note)
    note.set_defaults(func=client_command(_note))


def _case(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", metavar="CASE", help="the case id, or its first characters")


def _exhibit(parser: argparse.ArgumentParser) -> None:
    _case(parser)
    parser.add_argument(
        "exhibit", metavar="EXHIBIT", help="the exhibit id, or its first characters"
    )


def _reason(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--reason", required=True, metavar="TEXT", help=what)


def _rfc3339(text: str) -> str:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an RFC 3339 time like 2026-11-27T09:00:00Z"
        ) from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add Z or +01:00)")
    return text


def _hash(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    name, value = name.strip().lower(), value.strip().lower()
    if not _HASH_NAME.fullmatch(name) or not re.fullmatch(r"(?:[0-9a-f]{2}){16,64}", value):
        raise argparse.ArgumentTypeError(f"{text!r} is not ALG=HEX, e.g. sha256=ab12...")
    return name, value


def _field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not _FIELD_NAME.fullmatch(name) or name in _RESERVED_FIELDS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NAME=VALUE with a name of letters, digits, - and _ "
            "(tool, operator, time and hashes have options of their own)"
        )
    return name, value


def _paths(server: Session, args: argparse.Namespace) -> tuple[str, str, str]:
    """The case and exhibit ids the arguments name, and the exhibit's API path."""
    case_id = server.case(args.case)
    exhibit_id = server.exhibit(case_id, args.exhibit)
    return case_id, exhibit_id, f"/api/cases/{case_id}/exhibits/{exhibit_id}"


def _label(exhibit: dict[str, Any]) -> str:
    return visible(str(exhibit.get("label", "")), limit=60)


def _content_text(content: dict[str, Any] | None) -> str:
    if not content:
        return "no content"
    return f"{size_text(int(content.get('size', 0)))} sha256 {str(content.get('sha256'))[:16]}…"


def _state_text(exhibit: dict[str, Any]) -> str:
    flags = [
        name
        for name, on in (("sealed", exhibit.get("sealed")), ("on hold", exhibit.get("legal_hold")))
        if on
    ]
    return ", ".join(flags) or "-"


# --- list, show, add ----------------------------------------------------------------------


def _list(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    exhibits = server.every(f"/api/cases/{case_id}/exhibits", "listing exhibits")
    if args.json:
        print_json({"items": exhibits})
        return 0
    rows = [
        [
            short(x["id"]),
            str(x.get("owner", "")),
            _label(x),
            _content_text(x.get("content")),
            _state_text(x),
        ]
        for x in exhibits
    ]
    for line in table(rows):
        print(line)
    if not exhibits:
        print(f"no exhibits in case {short(case_id)} that you can see")
    return 0


def _show(args: argparse.Namespace, server: Session) -> int:
    _case_id, exhibit_id, path = _paths(server, args)
    doc = server.get(path, "reading the exhibit")
    doc["shares"] = _shares(server, path)
    if args.json:
        print_json(doc)
        return 0
    acquisition = doc.get("acquisition") or {}
    lines = [
        f"exhibit      {exhibit_id}",
        f"label        {_label(doc)}",
        f"owner        {doc.get('owner')}",
        f"description  {visible(str(doc.get('description') or '-'))}",
        f"registered   {doc.get('created_at')}",
        f"state        {_state_text(doc)}",
    ]
    for name, value in sorted(acquisition.items()):
        if name == "hashes":
            for algorithm, digest in sorted((value or {}).items()):
                lines.append(f"acquired     {visible(algorithm)} {visible(str(digest))}")
        else:
            lines.append(f"acquired     {visible(name)}: {visible(str(value))}")
    content = doc.get("content")
    if content:
        name = visible(str(content.get("filename", "")))
        media = visible(str(content.get("media_type", "")))
        lines += [
            f"content      {name} ({media}, {size_text(int(content['size']))})",
            f"sha256       {content.get('sha256')}",
            f"blake3       {content.get('blake3')}",
        ]
    else:
        lines.append("content      none stored")
    if doc["shares"] is None:
        lines.append("shared with  (not shown to you)")
    for share in doc["shares"] or []:
        state = "active" if share.get("active") else f"revoked (entry {share.get('revoked_seq')})"
        conditions = visible(str(share.get("conditions") or ""))
        lines.append(
            f"shared with  {share.get('jurisdiction')}: {state}"
            + (f"; conditions: {conditions}" if conditions else "")
        )
    for line in lines:
        print(line)
    return 0


def _shares(server: Session, path: str) -> list[dict[str, Any]] | None:
    """The exhibit's shares, or None where the server does not show them to the caller
    (the exhibit itself was shown: its shares are a detail, not a reason to fail)."""
    try:
        items = server.get(path + "/shares", "reading the exhibit's shares")["items"]
    except RefusedError as exc:
        if exc.status in (403, 404):  # not shown to this caller
            return None
        raise
    return list(items)


def _add(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    acquisition: dict[str, Any] = {
        "tool": args.tool,
        "operator": args.operator,
        "time": args.time,
        "hashes": dict(args.hashes),
    }
    for name, value in args.fields:
        if name in acquisition:
            raise CommandError(f"--field {name} is given twice")
        acquisition[name] = value
    body = {"label": args.label, "description": args.description, "acquisition": acquisition}
    created = server.send("POST", f"/api/cases/{case_id}/exhibits", "registering the exhibit", body)
    if args.json:
        print_json(created)
        return 0
    print(f"exhibit {created['id']} registered: {visible(args.label)} (entry {created['seq']})")
    return 0


# --- seal, hold, release, verify, dispose --------------------------------------------------


def _seal(args: argparse.Namespace, server: Session) -> int:
    _case_id, exhibit_id, path = _paths(server, args)
    answer = server.send("POST", path + "/seal", "sealing the exhibit", {"reason": args.reason})
    return _done(args, answer, f"sealed {short(exhibit_id)}")


def _hold(args: argparse.Namespace, server: Session) -> int:
    _case_id, exhibit_id, path = _paths(server, args)
    body = {"reason": args.reason, "authority": args.authority}
    answer = server.send("POST", path + "/hold", "setting the hold", body)
    hold = answer.get("hold", answer.get("seq"))
    return _done(args, answer, f"hold {hold} set on {short(exhibit_id)}")


def _release(args: argparse.Namespace, server: Session) -> int:
    case_id, exhibit_id, path = _paths(server, args)
    hold = args.hold if args.hold is not None else _the_open_hold(server, case_id, exhibit_id)
    body = {"reason": args.reason, "hold": hold}
    answer = server.send("POST", path + "/hold/release", f"releasing hold {hold}", body)
    return _done(args, answer, f"hold {hold} on {short(exhibit_id)} released")


def open_holds(entries: list[dict[str, Any]], exhibit_id: str) -> list[int]:
    """The holds on the exhibit that no release has ended (spec 2.1: a hold is the seq of
    its exhibit.hold_set; exhibit.hold_released names the hold it ends)."""
    held: list[int] = []
    released: set[int] = set()
    for entry in entries:
        if entry.get("exhibit") != exhibit_id:
            continue
        if entry.get("type") == "exhibit.hold_set":
            held.append(int(entry["seq"]))
        elif entry.get("type") == "exhibit.hold_released":
            ended = (entry.get("data") or {}).get("hold")
            if isinstance(ended, int):
                released.add(ended)
    return [seq for seq in held if seq not in released]


def _the_open_hold(server: Session, case_id: str, exhibit_id: str) -> int:
    holds = open_holds(server.entries(case_id), exhibit_id)
    if not holds:
        raise CommandError(f"exhibit {short(exhibit_id)} has no open hold")
    if len(holds) > 1:
        raise CommandError(
            f"exhibit {short(exhibit_id)} has {len(holds)} open holds "
            f"({', '.join(map(str, holds))}): name one with --hold"
        )
    return holds[0]


def _verify(args: argparse.Namespace, server: Session) -> int:
    _case_id, exhibit_id, path = _paths(server, args)
    answer = server.send("POST", path + "/verify", "re-verifying the exhibit")
    ok = bool(answer.get("ok"))
    if args.json:
        print_json(answer)
    elif ok:
        print(
            f"{short(exhibit_id)} intact: {size_text(int(answer.get('size') or 0))} sha256 "
            f"{answer.get('sha256')} as recorded (entry {answer.get('seq')})"
        )
    else:
        what = "MISSING" if answer.get("sha256") is None else "ALTERED"
        print(
            f"{short(exhibit_id)} STORAGE {what}: the stored content is not what was "
            f"recorded (entry {answer.get('seq')})",
            file=sys.stderr,
        )
    return 0 if ok else 1


def _dispose(args: argparse.Namespace, server: Session) -> int:
    _case_id, exhibit_id, path = _paths(server, args)
    body = {"reason": args.reason, "authority": args.authority}
    answer = server.send("POST", path + "/dispose", "disposing of the exhibit", body)
    kept = answer.get("retained_until")
    detail = "content removed" if answer.get("removed") else f"content retained until {kept}"
    return _done(args, answer, f"disposed of {short(exhibit_id)} ({detail})")


def _done(args: argparse.Namespace, answer: dict[str, Any], what: str) -> int:
    if args.json:
        print_json(answer)
    else:
        print(f"{what} (entry {answer.get('seq')})")
    return 0


# --- share, unshare, note -----------------------------------------------------------------


def _share(args: argparse.Namespace, server: Session) -> int:
    _case_id, exhibit_id, path = _paths(server, args)
    body = {"jurisdiction": args.code, "conditions": args.conditions}
    answer = server.send("POST", path + "/shares", f"sharing with {args.code}", body)
    return _done(args, answer, f"{short(exhibit_id)} shared with {args.code}")


def _unshare(args: argparse.Namespace, server: Session) -> int:
    _case_id, exhibit_id, path = _paths(server, args)
    answer = server.send(
        "DELETE", f"{path}/shares/{args.code}", f"ending the share with {args.code}"
    )
    return _done(args, answer, f"{short(exhibit_id)} no longer shared with {args.code}")


def _note(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    exhibit_id = None if args.exhibit is None else server.exhibit(case_id, args.exhibit)
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise CommandError("the note is empty")
    body = {"exhibit": exhibit_id, "text": text}
    answer = server.send("POST", f"/api/cases/{case_id}/notes", "adding the note", body)
    where = f"exhibit {short(exhibit_id)}" if exhibit_id else f"case {short(case_id)}"
    return _done(args, answer, f"note added to {where}")
