"""`jitc serve`, `db`, `authority`, `jurisdiction`, `token` and `log-key`."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine, make_url

from server import migrate
from server.cli.existing import existing_settings, open_existing_engine
from server.cli.guard import EXIT_CONFIG, CommandError, guarded
from server.config import Settings, trusted_proxies
from server.db import make_engine
from server.errors import InvalidRequestError
from server.logkey import load_or_create_seed
from server.services import admin
from server.services.custody_log import CheckpointSigner
from server.tokens import (
    JURISDICTION_CODE,
    ROLES,
    TokenRequest,
    generate_authority_key,
    issue_token,
    load_private_key,
    parse_public_jwk,
    parse_ttl,
    private_key_pem,
    public_jwk,
)


def _open_engine() -> tuple[Settings, Engine]:
    """The existing workspace's database: these commands never create one."""
    settings = existing_settings()
    return settings, open_existing_engine(settings)


def _code(text: str) -> str:
    if JURISDICTION_CODE.fullmatch(text) is None:
        raise argparse.ArgumentTypeError("a jurisdiction code is like NL or DE-BY")
    return text


# --- serve ---------------------------------------------------------------------------


def shown_store(url: str) -> str:
    """The store URL for the start-up line. Credentials belong in JITC_S3_ACCESS_KEY and
    JITC_S3_SECRET_KEY (open_store refuses them in the URL, but only when the store is
    first used), so a user:password@ part is never printed."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from server.services.workspace import Workspace  # noqa: PLC0415 - same

    settings = Settings.from_env()
    ws = Workspace.open(settings)  # schema check and log key before listening
    try:
        # The evidence store's buckets (Object Lock) or folders, checked before listening:
        # a bucket without Object Lock stops the server here, in one line.
        _ = ws.store
    finally:
        ws.close()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    print(
        f"jitc: serving {settings.log_name} on http://{args.host}:{args.port} "
        f"({database}; evidence {shown_store(settings.evidence_url)}; "
        f"security log {settings.security_log_path})",
        file=sys.stderr,
        flush=True,
    )
    proxy_headers, forwarded_allow_ips = proxy_options(trusted_proxies())
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        log_level="warning",
        server_header=False,
        date_header=False,
        # One setting says whose X-Forwarded-Proto/-For to believe: uvicorn's own default
        # trusts any process on 127.0.0.1, which would make cookies Secure and rewrite
        # client addresses in the security log on a local process's word.
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    return 0


def proxy_options(trusted: frozenset[str]) -> tuple[bool, str | None]:
    """uvicorn's proxy_headers and forwarded_allow_ips from JITC_WEB_TRUSTED_PROXIES
    (none: off)."""
    if not trusted:
        return False, None
    return True, ",".join(sorted(trusted))


# --- db ------------------------------------------------------------------------------


def _db_upgrade(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine, args.revision)
        print(f"database at migration {migrate.current_revision(engine)}")
    finally:
        engine.dispose()
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    engine = make_engine(Settings.from_env())
    try:
        migrate.downgrade(engine, args.revision)
        print(f"database at migration {migrate.current_revision(engine) or 'base (empty)'}")
    finally:
        engine.dispose()
    return 0


def _db_current(_args: argparse.Namespace) -> int:
    engine = make_engine(Settings.from_env())
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind {head}: run `jitc db upgrade`"
    print(f"{current or 'base (empty)'} ({state})")
    return 0 if current == head else 1


# --- authority, jurisdiction, token ----------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _authority_init(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    key_path = out / f"{args.code}.es256.pem"
    jwk_path = out / f"{args.code}.jwk.json"
    if key_path.exists() or jwk_path.exists():
        raise InvalidRequestError(f"{key_path} or {jwk_path} exists already: not overwritten")
    key = generate_authority_key()
    jwk = public_jwk(key.public_key())
    _write_private(key_path, private_key_pem(key))
    jwk_path.write_text(json.dumps(jwk, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"private key: {key_path} (keep it with the {args.code} authority, mode 0600)")
    print(f"public JWK:  {jwk_path} (kid {jwk['kid']})")
    print(f"register it: jitc jurisdiction add {args.code} --name NAME --issuer-jwk {jwk_path}")
    return 0


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror}") from None


def _jurisdiction_add(args: argparse.Namespace) -> int:
    jwk = parse_public_jwk(_read_text(args.issuer_jwk))
    _settings, engine = _open_engine()
    try:
        kid = admin.add_jurisdiction(engine, args.code, args.name, jwk)
    finally:
        engine.dispose()
    print(f"{args.code}: key {kid} registered")
    return 0


def _jurisdiction_witness(args: argparse.Namespace) -> int:
    from server.services.witnessing import (  # noqa: PLC0415 - loads httpx
        register_witness,
        remove_witness,
    )

    if args.remove == (args.url is not None or args.vkey is not None):
        raise InvalidRequestError("give either --url and --vkey, or --remove")
    if not args.remove and (args.url is None or args.vkey is None):
        raise InvalidRequestError("a witness needs both --url and --vkey")
    settings, engine = _open_engine()
    # Each case the state is party to logs its new policy, under the case's log key.
    signer = CheckpointSigner(settings.log_name, load_or_create_seed(settings))
    try:
        if args.remove:
            removed = remove_witness(engine, args.code, signer=signer)
        else:
            row = register_witness(engine, args.code, url=args.url, vkey=args.vkey, signer=signer)
    finally:
        engine.dispose()
    if args.remove:
        print(f"{args.code}: witness {'removed' if removed else 'was not registered'}")
    else:
        print(f"{args.code}: witness {row.name} at {row.url} registered")
    return 0


def _jurisdiction_list(_args: argparse.Namespace) -> int:
    """One line per state: code, name, key ids, and its witness (name and URL) or `-`,
    tab-separated."""
    _settings, engine = _open_engine()
    try:
        rows = admin.list_jurisdictions(engine)
        witnesses = admin.witnesses_by_state(engine)
    finally:
        engine.dispose()
    for code, name, kids in rows:
        witness = witnesses.get(code)
        shown = "-" if witness is None else f"{witness.name} {witness.url}"
        print(f"{code}\t{name}\t{' '.join(kids)}\t{shown}")
    return 0


def _jurisdiction_remove_key(args: argparse.Namespace) -> int:
    _settings, engine = _open_engine()
    try:
        admin.remove_key(engine, args.code, args.kid)
    finally:
        engine.dispose()
    print(f"{args.code}: key {args.kid} removed")
    return 0


def _token_issue(args: argparse.Namespace) -> int:
    try:
        pem = args.key.read_bytes()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {args.key}: {exc.strerror}") from None
    audience = args.aud or Settings.from_env().log_name
    request = TokenRequest(
        iss=args.iss, sub=args.sub, role=args.role, aud=audience, ttl_seconds=parse_ttl(args.ttl)
    )
    token = issue_token(load_private_key(pem), request)
    if args.json:
        claims = json.loads(_b64url_part(token.split(".")[1]))
        shown = {"token": token, "jti": claims["jti"], "exp": claims["exp"]}
        print(json.dumps(shown, sort_keys=True))
    else:
        print(token)
    return 0


def _b64url_part(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token_revoke(args: argparse.Namespace) -> int:
    jti = args.jti_option if args.jti_option is not None else args.jti
    if jti is None or (args.jti_option is not None and args.jti is not None):
        raise CommandError("name one token: jitc token revoke JTI, or --jti JTI", EXIT_CONFIG)
    _settings, engine = _open_engine()
    try:
        fresh = admin.revoke_token(engine, jti)
    finally:
        engine.dispose()
    print(f"token {jti} {'revoked' if fresh else 'was already revoked'}")
    return 0


def _log_key(_args: argparse.Namespace) -> int:
    settings = existing_settings(log_key=True)  # never creates a key nobody would use
    print(CheckpointSigner(settings.log_name, load_or_create_seed(settings)).vkey())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("serve", description="Run the workspace server (uvicorn).")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes, about the cores (default 1)"
    )
    serve.add_argument("--access-log", action="store_true", help="log every request (uvicorn)")
    serve.set_defaults(func=guarded(_serve))

    db = subparsers.add_parser("db", description="The database schema (Alembic).")
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    up = db_sub.add_parser("upgrade", help="upgrade the schema to the latest migration")
    up.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    up.set_defaults(func=guarded(_db_upgrade))
    down = db_sub.add_parser("downgrade", help="downgrade the schema (base: drop everything)")
    down.add_argument("revision", help="target revision (base: drop everything)")
    down.set_defaults(func=guarded(_db_downgrade))
    db_sub.add_parser("current", help="show the schema's migration").set_defaults(
        func=guarded(_db_current)
    )

    authority = subparsers.add_parser(
        "authority", description="A state authority's token key (ES256)."
    )
    auth_sub = authority.add_subparsers(dest="authority_command", metavar="COMMAND", required=True)
    init = auth_sub.add_parser("init", help="write an ES256 private key and its public JWK")
    init.add_argument("code", type=_code, metavar="CODE", help="the state's code, e.g. NL")
    init.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for the two files"
    )
    init.set_defaults(func=guarded(_authority_init))

    jurisdiction = subparsers.add_parser(
        "jurisdiction", description="The states in this workspace, their keys and witnesses."
    )
    j_sub = jurisdiction.add_subparsers(
        dest="jurisdiction_command", metavar="COMMAND", required=True
    )
    add = j_sub.add_parser("add", help="register a state, or another key of it (rotation)")
    add.add_argument("code", type=_code, metavar="CODE", help="the state's code, e.g. NL")
    add.add_argument("--name", required=True, help="the state's name, e.g. Netherlands")
    add.add_argument(
        "--issuer-jwk",
        type=Path,
        required=True,
        metavar="FILE",
        help="the authority's public JWK (jitc authority init)",
    )
    add.set_defaults(func=guarded(_jurisdiction_add))
    j_sub.add_parser("list", help="states, their key ids and witnesses").set_defaults(
        func=guarded(_jurisdiction_list)
    )
    remove = j_sub.add_parser("remove-key", help="retire one key of a state")
    remove.add_argument("code", type=_code, metavar="CODE", help="the state's code")
    remove.add_argument("kid", metavar="KID", help="the key id (jitc jurisdiction list)")
    remove.set_defaults(func=guarded(_jurisdiction_remove_key))
    witness = j_sub.add_parser(
        "witness",
        help="register (or --remove) a state's witness; its cases log their new policy",
    )
    witness.add_argument("code", type=_code, metavar="CODE", help="the state's code")
    witness.add_argument("--url", help="the witness's URL prefix")
    witness.add_argument("--vkey", help="its cosignature vkey (jitc witness init)")
    witness.add_argument("--remove", action="store_true", help="remove the state's witness")
    witness.set_defaults(func=guarded(_jurisdiction_witness))

    token = subparsers.add_parser("token", description="Access tokens: issue, revoke.")
    t_sub = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    issue = t_sub.add_parser("issue", help="print a signed access token")
    issue.add_argument(
        "--key", type=Path, required=True, metavar="FILE", help="the authority's private key"
    )
    issue.add_argument(
        "--iss", type=_code, required=True, metavar="CODE", help="the authority's state"
    )
    issue.add_argument("--sub", required=True, help="the person the token names")
    issue.add_argument("--role", required=True, choices=ROLES, help="their role")
    issue.add_argument("--ttl", default="8h", help="lifetime, at most 12h (default 8h)")
    issue.add_argument("--aud", help="the server's log name (default JITC_LOG_NAME)")
    issue.add_argument(
        "--json", action="store_true", help='print {"token", "jti", "exp"} as one JSON line'
    )
    issue.set_defaults(func=guarded(_token_issue))
    revoke = t_sub.add_parser(
        "revoke",
        help="revoke a token by its jti",
        description="Revoke a token by its jti. A jti that begins with '-' (older tokens) "
        "is given as --jti=JTI or after --: jitc token revoke -- JTI.",
    )
    revoke.add_argument("jti", nargs="?", help="the token's jti")
    revoke.add_argument("--jti", dest="jti_option", metavar="JTI", help="the token's jti")
    revoke.set_defaults(func=guarded(_token_revoke))

    subparsers.add_parser(
        "log-key", description="Print the log's verifier key (vkey)."
    ).set_defaults(func=guarded(_log_key))
