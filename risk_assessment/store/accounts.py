"""The store's rows of who may see and change what, and of the worklist: users, service
tokens, the audit trail, and the client managers' contacts (schema version 3).

Secrets never reach this module in the clear: a user row holds the password's argon2 hash,
a token row the SHA-256 of the token (access.accounts makes both). Reads on the request
path go through one connection per thread (`reader`), opened once, so checking a token
costs one indexed SELECT; every write opens the store and commits in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from contextlib import closing
from pathlib import Path
from typing import Any

from risk_assessment.core.common import AccessError, now_iso

from risk_assessment.store.records import open_store, store_path
from risk_assessment.store.tables import insert_row, transaction

_local = threading.local()
READERS_PER_THREAD = 4  # stores a thread keeps open (a server has one; tests many)


def reader(folder: Path) -> sqlite3.Connection | None:
    """This thread's read connection to folder's store; None while there is no store.
    The least recently used of more than READERS_PER_THREAD is closed."""
    key = str(store_path(folder))
    cache = _local.__dict__.setdefault("connections", OrderedDict())
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    if not store_path(folder).exists():
        return None
    cache[key] = open_store(folder)
    while len(cache) > READERS_PER_THREAD:
        cache.popitem(last=False)[1].close()
    return cache[key]


def read_rows(folder: Path, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
    """The rows of a SELECT on folder's store as dicts ([] while there is no store)."""
    db = reader(folder)
    return [] if db is None else [dict(r) for r in db.execute(sql, args)]


def write(folder: Path, sql: str, args: tuple = ()) -> int:
    """Run one statement in its own transaction; returns the rows it changed."""
    with closing(open_store(folder)) as db, transaction(db):
        return db.execute(sql, args).rowcount


# ---- users ---------------------------------------------------------------------------


def add_user(folder: Path, name: str, role: str, password_hash: str) -> None:
    """A new user; AccessError when the name is taken."""
    try:
        with closing(open_store(folder)) as db, transaction(db):
            values = {"name": name, "role": role, "password_hash": password_hash}
            insert_row(db, "users", {**values, "created_at": now_iso()})
    except sqlite3.IntegrityError:
        raise AccessError(f"user {name!r}: already exists") from None


def remove_user(folder: Path, name: str) -> None:
    """Delete a user (their sessions end with them); AccessError when there is none."""
    if not write(folder, "DELETE FROM users WHERE name = ?", (name,)):
        raise AccessError(f"user {name!r}: no such user")


def list_users(folder: Path) -> list[dict[str, Any]]:
    """Every user's name, role and creation time (never the hash)."""
    return read_rows(folder, "SELECT name, role, created_at FROM users ORDER BY name")


def get_user(folder: Path, name: str) -> dict[str, Any] | None:
    """One user's row with its hash and session epoch; None when unknown."""
    rows = read_rows(folder, "SELECT * FROM users WHERE name = ?", (name,))
    return rows[0] if rows else None


def count_users(folder: Path, role: str | None = None) -> int:
    """How many users there are (of role, when given)."""
    sql, args = "SELECT COUNT(*) AS n FROM users", ()
    if role:
        sql, args = sql + " WHERE role = ?", (role,)
    rows = read_rows(folder, sql, args)
    return rows[0]["n"] if rows else 0


def end_sessions(folder: Path, name: str) -> None:
    """Sign a user out everywhere: every cookie signed before now stops working."""
    write(folder, "UPDATE users SET session_epoch = session_epoch + 1 WHERE name = ?", (name,))


def set_password_hash(folder: Path, name: str, password_hash: str) -> None:
    """Replace a password's hash (argon2's rehash on sign-in when its parameters change)."""
    write(folder, "UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))


# ---- service tokens ------------------------------------------------------------------


def add_token(folder: Path, name: str, sha256: str, scopes: list[str], expires: str | None):
    """A new token row (only its SHA-256); AccessError when the name is taken."""
    row = {"name": name, "sha256": sha256, "scopes": ",".join(scopes), "expires_at": expires}
    try:
        with closing(open_store(folder)) as db, transaction(db):
            insert_row(db, "tokens", {**row, "created_at": now_iso()})
    except sqlite3.IntegrityError:
        raise AccessError(f"token {name!r}: already exists; revoke it or pick a name") from None


def revoke_token(folder: Path, name: str) -> None:
    """Mark a token revoked (kept for the audit trail); AccessError when there is none."""
    sql = "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL"
    if not write(folder, sql, (now_iso(), name)):
        raise AccessError(f"token {name!r}: no such live token")


def list_tokens(folder: Path) -> list[dict[str, Any]]:
    """Every token's name, scopes and dates (never the hash)."""
    sql = "SELECT name, scopes, created_at, expires_at, revoked_at FROM tokens ORDER BY name"
    return read_rows(folder, sql)


def token_by_sha256(folder: Path, sha256: str) -> dict[str, Any] | None:
    """The token row with this SHA-256 (revoked or not); None when unknown."""
    rows = read_rows(folder, "SELECT * FROM tokens WHERE sha256 = ?", (sha256,))
    return rows[0] if rows else None


# ---- audit trail ---------------------------------------------------------------------


def record(folder: Path, actor: str, action: str, target: str | None = None, **more) -> None:
    """One audit row: who did what to which target, from where (address), with detail."""
    with closing(open_store(folder)) as db, transaction(db):
        values = {"at": now_iso(), "actor": actor, "action": action, "target": target}
        insert_row(db, "audit", {**values, **more})


def audit_rows(folder: Path, limit: int = 500) -> list[dict[str, Any]]:
    """The newest audit rows first."""
    return read_rows(folder, "SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))


def failures_in_row(folder: Path, column: str, value: str, since: str) -> int:
    """Failed sign-ins for this user (column 'target') or address since `since` and since
    that user's or address's last successful sign-in."""
    assert column in ("target", "address")
    sql = (
        f"SELECT COUNT(*) AS n FROM audit WHERE action = 'signin_failed' AND {column} = ? "
        "AND at >= ? AND id > COALESCE((SELECT MAX(id) FROM audit WHERE action = 'signin' "
        f"AND {column} = ?), 0)"
    )
    rows = read_rows(folder, sql, (value, since, value))
    return rows[0]["n"] if rows else 0


# ---- the worklist's contacts ---------------------------------------------------------


def add_contact(folder: Path, corporation: str, actor: str, outcome: str, note: str):
    """Store one contact and its audit row together; returns the contact as stored."""
    row = {"corporation": corporation, "at": now_iso(), "actor": actor}
    row.update(outcome=outcome, note=note)
    with closing(open_store(folder)) as db, transaction(db):
        row["id"] = insert_row(db, "contacts", row)
        audit = {"at": row["at"], "actor": actor, "action": "contact_recorded"}
        insert_row(db, "audit", {**audit, "target": corporation, "detail": outcome})
    return row


def contacts_of(folder: Path, corporation: str) -> list[dict[str, Any]]:
    """A client's contacts, newest first."""
    sql = "SELECT * FROM contacts WHERE corporation = ? ORDER BY at DESC, id DESC"
    return read_rows(folder, sql, (corporation,))


def last_contact_id(folder: Path) -> int:
    """The id of the newest contact (0 before any): changes whenever one is recorded."""
    rows = read_rows(folder, "SELECT COALESCE(MAX(id), 0) AS id FROM contacts")
    return int(rows[0]["id"]) if rows else 0


def latest_contacts(folder: Path) -> dict[str, dict[str, Any]]:
    """Each contacted client's latest contact, by client id."""
    sql = (
        "SELECT c.* FROM contacts c JOIN (SELECT corporation, MAX(id) AS id FROM contacts "
        "GROUP BY corporation) last ON c.id = last.id"
    )
    return {r["corporation"]: r for r in read_rows(folder, sql)}


def followed_clients(folder: Path) -> list[dict[str, Any]]:
    """Each unlabelled observation (a current client, as listed) followed by a label of
    the same client: the two seqs, when each arrived, and the label."""
    sql = """
        SELECT p.listed_seq, p.labelled_seq, p.corporation, l.exited,
               (SELECT b.created_at FROM sources s JOIN batches b ON b.id = s.batch_id
                WHERE s.id = u.source_id) AS listed_at,
               (SELECT b.created_at FROM sources s JOIN batches b ON b.id = s.batch_id
                WHERE s.id = l.source_id) AS labelled_at
        FROM (SELECT u.seq AS listed_seq, u.corporation, MIN(l.seq) AS labelled_seq
              FROM observations u JOIN observations l ON l.corporation = u.corporation
                   AND l.seq > u.seq AND l.exited IS NOT NULL
              WHERE u.exited IS NULL GROUP BY u.seq) p
        JOIN observations u ON u.seq = p.listed_seq
        JOIN observations l ON l.seq = p.labelled_seq
        ORDER BY p.listed_seq"""
    return read_rows(folder, sql)


def contacts_between(folder: Path) -> dict[str, list[tuple[str, str]]]:
    """Every contact's (time, outcome), by client, oldest first."""
    found: dict[str, list[tuple[str, str]]] = {}
    for row in read_rows(folder, "SELECT corporation, at, outcome FROM contacts ORDER BY at, id"):
        found.setdefault(row["corporation"], []).append((row["at"], row["outcome"]))
    return found


def contacted_label_seqs(folder: Path) -> set[int]:
    """The labels that arrived after the client was spoken to (any outcome but "no
    answer") while it was listed: a call may have changed the outcome they record."""
    sql = """
        SELECT p.labelled_seq AS seq FROM (
            SELECT u.seq AS listed_seq, u.corporation, MIN(l.seq) AS labelled_seq
            FROM observations u JOIN observations l ON l.corporation = u.corporation
                 AND l.seq > u.seq AND l.exited IS NOT NULL
            WHERE u.exited IS NULL GROUP BY u.seq) p
        JOIN observations u ON u.seq = p.listed_seq
        JOIN observations l ON l.seq = p.labelled_seq
        JOIN sources su ON su.id = u.source_id JOIN batches bu ON bu.id = su.batch_id
        JOIN sources sl ON sl.id = l.source_id JOIN batches bl ON bl.id = sl.batch_id
        WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.corporation = p.corporation
                      AND c.outcome != 'no answer' AND c.at >= bu.created_at
                      AND c.at < bl.created_at)"""
    return {r["seq"] for r in read_rows(folder, sql)}
