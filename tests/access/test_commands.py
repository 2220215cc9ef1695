"""`python app.py users ...` and `python app.py tokens ...`, in a subprocess and in-process."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from risk_assessment.access import accounts, commands
from risk_assessment.core.common import AccessError
from risk_assessment.store import accounts as rows
from tests.conftest import ROOT


def app_command(workspace: Path, *args: str, password: str = "") -> subprocess.CompletedProcess:
    """python app.py --config <workspace> args..., with password on stdin (a pipe)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--config", str(workspace / "config.json"), *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


def run(config: dict, *argv: str, password: str = "") -> str:
    """Run one command in-process; returns what it printed."""
    out = io.StringIO()
    args = commands.parser("app").parse_args(list(argv))
    commands.run(args, config, io.StringIO(password + "\n"), out)
    return out.getvalue()


# six runs of app.py, about 9 s: run by make test-slow (the next test keeps app.py in make test)
@pytest.mark.slow
def test_users_add_list_remove_through_app_py(workspace):
    """The password comes from stdin; the store keeps its hash; list shows no secret."""
    added = app_command(workspace, "users", "add", "ann", "--role", "manager", password="pw-ann-1")
    assert added.returncode == 0, added.stderr
    listed = app_command(workspace, "users", "list")
    assert "ann" in listed.stdout and "manager" in listed.stdout
    assert "pw-ann-1" not in added.stderr + listed.stdout + listed.stderr
    assert "$argon2" not in listed.stdout
    again = app_command(workspace, "users", "add", "ann", "--role", "admin", password="pw-ann-1")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr
    removed = app_command(workspace, "users", "remove", "ann")
    assert removed.returncode == 0 and "ann" not in app_command(workspace, "users", "list").stdout


def test_a_short_password_or_bad_role_is_refused_in_one_line(workspace):
    """A one-line error, exit 1, nothing stored."""
    short = app_command(workspace, "users", "add", "bob", "--role", "viewer", password="abc")
    assert short.returncode == 1 and "password" in short.stderr and "Traceback" not in short.stderr
    role = app_command(workspace, "users", "add", "bob", "--role", "root", password="abcdefgh1")
    assert role.returncode == 2 and "root" in role.stderr
    assert "bob" not in app_command(workspace, "users", "list").stdout


def test_tokens_are_printed_once_stored_hashed_listed_and_revoked(config):
    """create prints the token; the store holds only its SHA-256; revoke marks it."""
    token = run(config, "tokens", "create", "svc", "--scope", "predict,read").strip()
    assert token.startswith(accounts.TOKEN_PREFIX)
    folder = config["output_folder_path"]
    row = rows.token_by_sha256(folder, accounts.token_sha256(token))
    assert row["name"] == "svc" and row["scopes"] == "predict,read" and row["expires_at"]
    db_bytes = (folder / "store.db").read_bytes() + (folder / "store.db-wal").read_bytes()
    assert token.encode() not in db_bytes
    listed = run(config, "tokens", "list")
    assert "svc" in listed and token not in listed and row["sha256"] not in listed
    run(config, "tokens", "revoke", "svc")
    assert rows.token_by_sha256(folder, row["sha256"])["revoked_at"]
    with pytest.raises(AccessError, match="no such live token"):
        run(config, "tokens", "revoke", "svc")
    with pytest.raises(AccessError, match="scope"):
        run(config, "tokens", "create", "other", "--scope", "everything")


def test_every_change_is_in_the_audit_trail(config):
    """users add/remove and tokens create/revoke each leave an audit row by the operator."""
    run(config, "users", "add", "cy", "--role", "viewer", password="cy-password")
    run(config, "tokens", "create", "t1", "--scope", "read", "--days", "0")
    run(config, "tokens", "revoke", "t1")
    run(config, "users", "remove", "cy")
    actions = [r["action"] for r in rows.audit_rows(config["output_folder_path"])]
    assert actions == ["user_removed", "token_revoked", "token_created", "user_added"]
    assert rows.list_tokens(config["output_folder_path"])[0]["expires_at"] is None
