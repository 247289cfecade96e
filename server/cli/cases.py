"""`jitc case` (list, show, create, propose-party, approve, withdraw), `jitc grant`,
`jitc ungrant` and `jitc policy show`: a case, its parties, court and defence access, and
its witness policy, from the command line.

Each command is one or two API calls (docs/cli.md lists them with their `--json` output);
the server decides what is allowed (docs/permissions.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from custody.report import visible
from server.cli.client import (
    Session,
    client_command,
    object_of,
    own_state,
    plural,
    print_json,
    short,
    state_code,
    table,
)
from server.cli.guard import CommandError
from server.cli.options import client_options

GRANTABLE = ("judge", "defence")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    case = subparsers.add_parser(
        "case",
        description="Cases: list them, show one, open one, and change its parties. A case "
        "may be named by the first characters of its id.",
    )
    commands = case.add_subparsers(dest="case_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="the cases you can see, newest first")
    client_options(listing)
    listing.set_defaults(func=client_command(_list))

    show = commands.add_parser("show", help="a case: parties, grants, pending proposals, log size")
    _case_argument(show)
    client_options(show)
    show.set_defaults(func=client_command(_show))

    create = commands.add_parser(
        "create",
        help="open a case (prosecutors; your own state must be a party)",
        description="Open a case of a joint investigation team; its log starts with case.created.",
    )
    create.add_argument("title", metavar="TITLE", help="the case's title")
    create.add_argument(
        "--party",
        dest="parties",
        action="append",
        required=True,
        type=state_code,
        metavar="CODE",
        help="a state of the team, e.g. NL (repeat for each; include your own)",
    )
    create.add_argument(
        "--agreement", default="", metavar="REF", help="reference of the JIT agreement"
    )
    client_options(create)
    create.set_defaults(func=client_command(_create))

    propose = commands.add_parser(
        "propose-party",
        help="propose another state as a party (the other parties consent with approve)",
    )
    _case_argument(propose)
    propose.add_argument("code", type=state_code, metavar="CODE", help="the state, e.g. FR")
    client_options(propose)
    propose.set_defaults(func=client_command(_propose))

    approve = commands.add_parser(
        "approve", help="consent to a pending proposal of a party (prosecutors)"
    )
    _case_argument(approve)
    approve.add_argument(
        "proposal",
        metavar="PROPOSAL",
        help="the proposal's number (its entry's seq), or the proposed state's code",
    )
    client_options(approve)
    approve.set_defaults(func=client_command(_approve))

    withdraw = commands.add_parser(
        "withdraw",
        help="withdraw your own state from the case (prosecutors)",
        description="Withdraw the state your token names from the case: the shares it "
        "received end, and so do the grants it gave.",
    )
    _case_argument(withdraw)
    client_options(withdraw)
    withdraw.set_defaults(func=client_command(_withdraw))

    grant = subparsers.add_parser(
        "grant",
        description="Grant one of your state's judges or defence lawyers access to a case "
        "(prosecutors; logged as case.access_granted).",
    )
    _grant_arguments(grant)
    grant.add_argument(
        "--exhibit",
        dest="exhibits",
        action="append",
        metavar="ID",
        help="an exhibit the grant discloses (repeatable; default: every exhibit your "
        "state may read)",
    )
    client_options(grant)
    grant.set_defaults(func=client_command(_grant))

    ungrant = subparsers.add_parser(
        "ungrant",
        description="Revoke a judge's or defence lawyer's access to a case (logged as "
        "case.access_revoked; it takes effect at once).",
    )
    _grant_arguments(ungrant)
    client_options(ungrant)
    ungrant.set_defaults(func=client_command(_ungrant))


def _case_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", metavar="CASE", help="the case id, or its first characters")


def _grant_arguments(parser: argparse.ArgumentParser) -> None:
    _case_argument(parser)
    parser.add_argument(
        "--sub", required=True, metavar="SUB", help="the person, as their token's sub names them"
    )
    parser.add_argument(
        "--role", required=True, choices=GRANTABLE, help="judge or defence (their token's role)"
    )


# --- case ----------------------------------------------------------------------------------


def _list(args: argparse.Namespace, server: Session) -> int:
    cases = server.every("/api/cases", "listing cases")
    if args.json:
        print_json({"items": cases})
        return 0
    rows = [
        [
            short(c["id"]),
            str(c.get("created_at", ""))[:10],
            visible(str(c.get("title", "")), limit=80),
            visible(str(c.get("agreement") or ""), limit=40),
        ]
        for c in cases
    ]
    for line in table(rows):
        print(line.rstrip())
    if not cases:
        print("no cases (none of your state's, and no grant)")
    return 0


def _show(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    doc = server.get(f"/api/cases/{case_id}", "reading the case")
    if args.json:
        print_json(doc)
        return 0
    for line in case_lines(doc):
        print(line)
    return 0


def case_lines(doc: dict[str, Any]) -> list[str]:
    lines = [
        f"case       {doc['id']}",
        f"title      {visible(str(doc.get('title', '')))}",
        f"agreement  {visible(str(doc.get('agreement') or '-'))}",
        f"created    {doc.get('created_at', '')} by {visible(str(doc.get('created_by', '')))}",
        f"origin     {visible(str(doc.get('origin', '')))}",
        f"parties    {' '.join(doc.get('parties') or []) or '-'}",
        f"log        {plural(int(doc.get('log_size') or 0), 'entry', 'entries')}",
    ]
    for proposal in doc.get("proposals") or []:
        pending = " ".join(proposal.get("pending") or []) or "nobody"
        lines.append(
            f"proposed   {proposal.get('jurisdiction')} (proposal {proposal.get('seq')}, by "
            f"{proposal.get('proposed_by')}; waiting for {pending})"
        )
    lines.extend(f"grant      {grant_text(grant)}" for grant in doc.get("grants") or [])
    return lines


def grant_text(grant: dict[str, Any]) -> str:
    exhibits = grant.get("exhibits")
    scope = "all exhibits" if exhibits is None else " ".join(short(x) for x in exhibits)
    return (
        f"{grant.get('role')} {grant.get('jurisdiction')}/{visible(str(grant.get('sub', '')))}"
        f" ({scope})"
    )


def _create(args: argparse.Namespace, server: Session) -> int:
    body = {"title": args.title, "parties": args.parties, "agreement": args.agreement}
    created = server.send("POST", "/api/cases", "opening the case", body)
    if args.json:
        print_json(created)
        return 0
    print(f"case {created['id']} opened: {visible(args.title)} ({', '.join(args.parties)})")
    return 0


def _propose(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    doing = f"proposing {args.code} as a party"
    response = server.call(
        "POST", f"/api/cases/{case_id}/parties", doing, body={"jurisdiction": args.code}
    )
    answer = object_of(response, doing)
    if args.json:
        print_json(answer)
        return 0
    print(_party_outcome(args.code, response.status_code, answer))
    return 0


def _party_outcome(code: str, status: int, answer: dict[str, Any]) -> str:
    """202: consents are pending; 201: the state is a party now (after the last consent,
    or at once in a case with one party)."""
    if status == 202:
        pending = " ".join(answer.get("pending") or [])
        return (
            f"{code} proposed as a party (proposal {answer.get('proposal')}); waiting for "
            f"the consent of {pending or 'nobody'}"
        )
    seq = answer.get("added", answer.get("seq"))
    return f"{answer.get('jurisdiction', code)} is a party now (entry {seq})"


def _approve(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    seq, code = _proposal(server, case_id, args.proposal)
    doing = f"approving proposal {seq}"
    response = server.call("POST", f"/api/cases/{case_id}/parties/proposals/{seq}/approve", doing)
    answer = object_of(response, doing)
    if args.json:
        print_json(answer)
        return 0
    print(_party_outcome(answer.get("jurisdiction") or code, response.status_code, answer))
    return 0


def _proposal(server: Session, case_id: str, given: str) -> tuple[int, str]:
    """The pending proposal named by its seq or by the proposed state, from the case."""
    doc = server.get(f"/api/cases/{case_id}", "reading the case")
    proposals = [p for p in doc.get("proposals") or [] if isinstance(p, dict)]
    if given.isdigit():
        for proposal in proposals:
            if proposal.get("seq") == int(given):
                return int(given), str(proposal.get("jurisdiction", "?"))
        return int(given), "?"  # the server says whether there is such a proposal
    code = given.strip().upper()
    matching = [p for p in proposals if p.get("jurisdiction") == code]
    if not matching:
        raise CommandError(f"no pending proposal to add {visible(code, limit=40)} to this case")
    return int(matching[0]["seq"]), code


def _withdraw(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    code = own_state(server.api)
    answer = server.send(
        "DELETE", f"/api/cases/{case_id}/parties/{code}", f"withdrawing {code} from the case"
    )
    if args.json:
        print_json(answer)
        return 0
    print(f"{code} withdrew from case {short(case_id)} (entry {answer.get('seq')})")
    return 0


# --- grants -------------------------------------------------------------------------------


def _grant(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    body: dict[str, Any] = {
        "jurisdiction": own_state(server.api),
        "sub": args.sub,
        "role": args.role,
    }
    if args.exhibits:
        exhibits = [server.exhibit(case_id, given) for given in args.exhibits]
        if len(set(exhibits)) != len(exhibits):
            raise CommandError("--exhibit names the same exhibit twice")
        body["exhibits"] = exhibits
    answer = server.send("POST", f"/api/cases/{case_id}/grants", "granting access", body)
    if args.json:
        print_json(answer)
        return 0
    print(f"granted {grant_text(body)} access to case {short(case_id)} (entry {answer['seq']})")
    return 0


def _ungrant(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    body = {"jurisdiction": own_state(server.api), "sub": args.sub, "role": args.role}
    answer = server.send("POST", f"/api/cases/{case_id}/grants/revoke", "revoking access", body)
    if args.json:
        print_json(answer)
        return 0
    print(
        f"revoked the access of {args.role} {body['jurisdiction']}/{visible(args.sub)} to case "
        f"{short(case_id)} (entry {answer['seq']})"
    )
    return 0


# --- policy show (registered by server/cli/policy.py) --------------------------------------


def policy_show(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    text = server.call("GET", f"/api/cases/{case_id}/policy", "reading the policy").text
    if args.out is not None:
        _write_atomically(args.out, text)
    if args.json:
        out = None if args.out is None else str(args.out)
        print_json({"case": case_id, "policy": text, "path": out})
    elif args.out is None:
        sys.stdout.write(text)
    else:
        print(f"policy of case {case_id} written to {args.out}", file=sys.stderr)
    return 0


def _write_atomically(out: Path, text: str) -> None:
    """Written beside the target and renamed into place: never a half-written policy."""
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
