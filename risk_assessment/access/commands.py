"""The `users` and `tokens` commands of app.py: the parser and what each command does.

    python app.py users add NAME --role viewer|manager|admin   (password: stdin or a prompt)
    python app.py users list | users remove NAME
    python app.py tokens create NAME --scope predict[,read,contacts] [--days 365]
    python app.py tokens list | tokens revoke NAME

A password comes from standard input when it is not a terminal (first line), else from a
prompt asked twice; it is never an argument (arguments show in `ps` and shell history). A
new token is printed once, on stdout, and only its SHA-256 is stored.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from typing import Any, TextIO

from risk_assessment.core.common import AccessError, cli_parser

from risk_assessment.access import accounts
from risk_assessment.store import accounts as rows

log = logging.getLogger("app")


def parser(description: str) -> argparse.ArgumentParser:
    """app.py's parser: serving by default, or a users/tokens command."""
    top = cli_parser(description)
    commands = top.add_subparsers(dest="command", metavar="{users,tokens}")
    users = commands.add_parser("users", help="add, list or remove people who sign in")
    acts = users.add_subparsers(dest="action", required=True)
    add = acts.add_parser("add", help="add a user (password from stdin or a prompt)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=accounts.ROLES)
    acts.add_parser("list", help="list users and their roles")
    acts.add_parser("remove", help="remove a user").add_argument("name")
    tokens = commands.add_parser("tokens", help="create, list or revoke service tokens")
    acts = tokens.add_subparsers(dest="action", required=True)
    create = acts.add_parser("create", help="create a token (printed once)")
    create.add_argument("name")
    create.add_argument("--scope", required=True, help="predict, read, contacts (comma-separated)")
    create.add_argument("--days", type=float, default=365.0, help="lifetime; 0: never expires")
    acts.add_parser("list", help="list tokens (never their secrets)")
    acts.add_parser("revoke", help="revoke a token").add_argument("name")
    return top


def read_password(stdin: TextIO) -> str:
    """The new password: stdin's first line when it is not a terminal, else asked twice."""
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise AccessError("password: the two entries differ")
    return first


def operator() -> str:
    """Who runs the command, for the audit trail: the operating system's user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def audit_operator(config: dict[str, Any], action: str, target: str, detail: str = "") -> None:
    """An audit row for a command run on the server (rollback, switch): by the OS user."""
    rows.record(config["output_folder_path"], operator(), action, target, detail=detail or None)


def table(records: list[dict[str, Any]], columns: list[str], out: TextIO) -> None:
    """Print records as aligned columns (a header, then one line each)."""
    cells = [columns] + [[str(r.get(c) or "-") for c in columns] for r in records]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)


def users_command(args: argparse.Namespace, folder, stdin: TextIO, out: TextIO) -> None:
    """users add | list | remove."""
    if args.action == "list":
        return table(rows.list_users(folder), ["name", "role", "created_at"], out)
    name = accounts.check_name(args.name, "user")
    if args.action == "add":
        password_hash = accounts.hash_password(read_password(stdin))
        rows.add_user(folder, name, accounts.check_role(args.role), password_hash)
        rows.record(folder, operator(), "user_added", name, detail=args.role)
        log.info("user %s added with role %s", name, args.role)
    else:
        rows.remove_user(folder, name)
        rows.record(folder, operator(), "user_removed", name)
        log.info("user %s removed", name)


def tokens_command(args: argparse.Namespace, folder, out: TextIO) -> None:
    """tokens create | list | revoke."""
    if args.action == "list":
        columns = ["name", "scopes", "created_at", "expires_at", "revoked_at"]
        return table(rows.list_tokens(folder), columns, out)
    name = accounts.check_name(args.name, "token")
    if args.action == "create":
        scopes, expires = accounts.parse_scopes(args.scope), accounts.expiry(args.days)
        token = accounts.new_token()
        rows.add_token(folder, name, accounts.token_sha256(token), scopes, expires)
        rows.record(folder, operator(), "token_created", name, detail=",".join(scopes))
        print(token, file=out)
        log.info("token %s created (scopes %s, expires %s); shown once", name, scopes, expires)
    else:
        rows.revoke_token(folder, name)
        rows.record(folder, operator(), "token_revoked", name)
        log.info("token %s revoked", name)


def run(args: argparse.Namespace, config: dict[str, Any], stdin=None, out=None) -> int:
    """Do a users or tokens command on config's store; 0 when done."""
    folder = config["output_folder_path"]
    stdin, out = stdin or sys.stdin, out or sys.stdout
    if args.command == "users":
        users_command(args, folder, stdin, out)
    else:
        tokens_command(args, folder, out)
    return 0
