"""Roles, scopes, password hashes and tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from risk_assessment.access import accounts
from risk_assessment.core.common import AccessError


def test_a_password_is_stored_as_an_argon2id_hash_that_only_it_matches():
    """The hash is argon2id, never the password; the right password matches, others not."""
    stored = accounts.hash_password("correct horse")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert accounts.verify_password(stored, "correct horse")
    assert not accounts.verify_password(stored, "correct hors")
    assert not accounts.verify_password(stored, "")
    assert not accounts.needs_rehash(stored)


def test_an_unknown_user_or_a_broken_hash_never_matches():
    """No hash (an unknown user) and a hash that is not argon2's both answer False."""
    assert not accounts.verify_password(None, "anything at all")
    assert not accounts.verify_password("not a hash", "anything at all")
    assert not accounts.verify_password(accounts.hash_password("x" * 8), "x" * 2000)


@pytest.mark.parametrize("password", ["short", "x" * 1025])
def test_a_too_short_or_too_long_password_is_refused(password):
    """Passwords of 8 to 1024 characters only."""
    with pytest.raises(AccessError, match="password"):
        accounts.hash_password(password)


def test_a_token_is_256_random_bits_stored_as_sha256():
    """Tokens differ, carry 43 URL-safe characters after the prefix, hash to 64 hex."""
    first, second = accounts.new_token(), accounts.new_token()
    assert first != second and first.startswith(accounts.TOKEN_PREFIX)
    assert len(first) - len(accounts.TOKEN_PREFIX) == 43
    digest = accounts.token_sha256(first)
    assert len(digest) == 64 and digest != accounts.token_sha256(second)


def test_a_token_row_lets_in_unless_revoked_expired_or_unknown():
    """token_problem names why a token is refused."""
    now = datetime.now(UTC)
    row = {"sha256": "ab" * 32, "revoked_at": None, "expires_at": None}
    assert accounts.token_problem(row, "ab" * 32, now) is None
    assert accounts.token_problem(None, "ab" * 32, now) == "unknown token"
    assert accounts.token_problem({**row, "revoked_at": "x"}, "ab" * 32, now) == "token revoked"
    past = (now - timedelta(seconds=1)).isoformat()
    assert accounts.token_problem({**row, "expires_at": past}, "ab" * 32, now) == "token expired"
    assert accounts.expiry(0) is None
    assert accounts.expiry(1, now) == (now + timedelta(days=1)).isoformat(timespec="seconds")


def test_roles_and_scopes_grant_what_the_issue_lists():
    """viewer reads, manager also records contacts, admin also administers; scopes map."""
    assert accounts.allows("read", "viewer") and not accounts.allows("contacts", "viewer")
    assert accounts.allows("contacts", "manager") and not accounts.allows("admin", "manager")
    assert accounts.allows("admin", "admin")
    assert accounts.allows("predict", scopes=("predict",))
    assert not accounts.allows("read", scopes=("predict",))
    assert accounts.allows("contacts", scopes=("contacts",))
    assert not accounts.allows("admin", scopes=accounts.SCOPES)


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "../etc", "-lead", "é"])
def test_names_are_plain(bad):
    """A user or token name of letters, digits and . _ @ - only."""
    with pytest.raises(AccessError, match="user"):
        accounts.check_name(bad, "user")


def test_scopes_are_checked():
    """Known scopes pass in their canonical order; an unknown one is named."""
    assert accounts.parse_scopes("read,predict,read") == ["predict", "read"]
    with pytest.raises(AccessError, match="admin"):
        accounts.parse_scopes("predict,admin")
    with pytest.raises(AccessError, match="role"):
        accounts.check_role("root")


def test_at_most_two_password_hashes_run_at_once():
    """A third verification waits until one of two running ones is done (64 MiB each)."""
    import threading

    stored = accounts.hash_password("correct horse")
    done = []
    accounts.HASHING.acquire()
    accounts.HASHING.acquire()
    waiting = threading.Thread(
        target=lambda: done.append(accounts.verify_password(stored, "correct horse"))
    )
    waiting.start()
    waiting.join(timeout=0.5)
    assert waiting.is_alive() and done == []
    accounts.HASHING.release()
    waiting.join(timeout=30)
    accounts.HASHING.release()
    assert done == [True]
