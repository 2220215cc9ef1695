"""The store's users, tokens, audit trail and contacts (schema version 3)."""

from __future__ import annotations

import sqlite3

import pytest

from risk_assessment.core.common import AccessError
from risk_assessment.store import accounts as rows
from risk_assessment.store import records as store


def test_users_are_added_once_listed_without_hash_and_removed(tmp_path):
    """A name is unique; list_users shows no hash; end_sessions bumps the epoch."""
    rows.add_user(tmp_path, "ann", "admin", "$argon2id$fake")
    with pytest.raises(AccessError, match="already exists"):
        rows.add_user(tmp_path, "ann", "viewer", "$argon2id$fake")
    assert rows.list_users(tmp_path) == [
        {"name": "ann", "role": "admin", "created_at": rows.get_user(tmp_path, "ann")["created_at"]}
    ]
    assert rows.count_users(tmp_path) == 1 and rows.count_users(tmp_path, "manager") == 0
    rows.end_sessions(tmp_path, "ann")
    assert rows.get_user(tmp_path, "ann")["session_epoch"] == 1
    rows.remove_user(tmp_path, "ann")
    with pytest.raises(AccessError, match="no such user"):
        rows.remove_user(tmp_path, "ann")
    assert rows.count_users(tmp_path) == 0


def test_no_store_means_no_users_and_creates_nothing(tmp_path):
    """Reading accounts of a folder without a store answers empty and writes no file."""
    assert rows.count_users(tmp_path) == 0 and rows.get_user(tmp_path, "x") is None
    assert not store.store_path(tmp_path).exists()


def test_failures_in_row_count_since_the_last_sign_in(tmp_path):
    """Failures before a successful sign-in do not count; after it they do."""
    for _ in range(3):
        rows.record(tmp_path, "ann", "signin_failed", "ann", address="10.0.0.1")
    rows.record(tmp_path, "ann", "signin", "ann", address="10.0.0.1")
    rows.record(tmp_path, "ann", "signin_failed", "ann", address="10.0.0.2")
    assert rows.failures_in_row(tmp_path, "target", "ann", "2000-01-01") == 1
    assert rows.failures_in_row(tmp_path, "address", "10.0.0.2", "2000-01-01") == 1
    assert rows.failures_in_row(tmp_path, "address", "10.0.0.1", "2000-01-01") == 0
    assert rows.failures_in_row(tmp_path, "target", "ann", "2999-01-01") == 0


def test_contacts_keep_their_order_and_the_latest_per_client(tmp_path):
    """contacts_of: newest first; latest_contacts: one per client; each has an audit row."""
    rows.add_contact(tmp_path, "c1", "ann", "no answer", "")
    rows.add_contact(tmp_path, "c1", "bob", "reached", "<b>hi</b>")
    rows.add_contact(tmp_path, "c2", "ann", "leaving", "")
    assert [c["actor"] for c in rows.contacts_of(tmp_path, "c1")] == ["bob", "ann"]
    latest = rows.latest_contacts(tmp_path)
    assert {k: v["outcome"] for k, v in latest.items()} == {"c1": "reached", "c2": "leaving"}
    assert latest["c1"]["note"] == "<b>hi</b>"
    assert [a["action"] for a in rows.audit_rows(tmp_path)] == ["contact_recorded"] * 3


def test_a_thread_keeps_few_read_connections_open(tmp_path):
    """Readers beyond READERS_PER_THREAD are closed, oldest first (tests open many stores)."""
    folders = [tmp_path / f"s{i}" for i in range(rows.READERS_PER_THREAD + 2)]
    opened = []
    for folder in folders:
        store.open_store(folder).close()
        opened.append(rows.reader(folder))
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].execute("SELECT 1")
    assert rows.reader(folders[-1]) is opened[-1]
    assert rows.reader(folders[-1]).execute("SELECT 1").fetchone()[0] == 1
