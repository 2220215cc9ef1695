"""Roles, scopes and secrets: what each kind of request needs, and how passwords and
service tokens are made, stored and checked.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory
profile): slow on purpose, since people pick guessable ones. A token is 256 random bits
(secrets.token_urlsafe(32)), so a fast hash is enough to store it: the store keeps its
SHA-256, looked up by index and compared in constant time (hmac.compare_digest).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from risk_assessment.core.common import AccessError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("viewer", "manager", "admin")
SCOPES = ("predict", "read", "contacts")
TOKEN_PREFIX = "rat_"  # "risk assessment token": easy to spot for secret scanners
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8  # characters (NIST SP 800-63B's floor)
MAX_PASSWORD = 1024  # argon2 takes any length; a cap keeps one request cheap
# argon2id takes 64 MiB per hash: at most this many at once per process, so a flood of
# sign-ins waits in line instead of taking 16 threads x 64 MiB
HASHING = threading.BoundedSemaphore(2)


class Need(NamedTuple):
    """Who may make a kind of request: these roles in a session, or a token with one of
    these scopes (none: people only)."""

    roles: tuple[str, ...]
    scopes: tuple[str, ...]


NEEDS = {
    "open": Need(ROLES, SCOPES),  # /health, /login: anyone, even signed out
    "read": Need(ROLES, ("read",)),  # the dashboard, the risk list, reports, diagnostics
    "predict": Need(ROLES, ("predict",)),  # /prediction, /invocations
    "contacts_read": Need(ROLES, ("contacts", "read")),  # a client's contacts
    "contacts": Need(("manager", "admin"), ("contacts",)),  # recording a contact
    "admin": Need(("admin",), ()),  # users, audit trail, rollback
}


def check_name(name: str, what: str = "name") -> str:
    """A user or token name: letters, digits and . _ @ - (at most 64); else AccessError."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise AccessError(
            f"{what} {str(name)[:70]!r}: use 1-64 letters, digits, '.', '_', '@' or '-'"
        )
    return name


def check_role(role: str) -> str:
    """One of ROLES, else AccessError naming them."""
    if role not in ROLES:
        raise AccessError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    return role


def parse_scopes(text: str) -> list[str]:
    """'predict,read' -> ['predict', 'read']; AccessError for an unknown or empty scope."""
    scopes = [s.strip() for s in text.split(",")]
    wrong = [s for s in scopes if s not in SCOPES]
    if wrong or not scopes:
        raise AccessError(f"scope {','.join(wrong)!r}: must be among {', '.join(SCOPES)}")
    return sorted(set(scopes), key=SCOPES.index)


def allows(need: str, role: str | None = None, scopes: tuple[str, ...] = ()) -> bool:
    """True when a session of role, or a token with scopes, may make a request of need."""
    rule = NEEDS[need]
    return (role in rule.roles) if role else bool(set(scopes) & set(rule.scopes))


# ---- passwords -------------------------------------------------------------------------


@cache
def hasher() -> PasswordHasher:
    """argon2-cffi's hasher with its current default parameters."""
    return PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash of an acceptable password; AccessError for a short or long one."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccessError(f"password: must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    with HASHING:
        return hasher().hash(password)


@cache
def dummy_hash() -> str:
    """A hash to verify against for an unknown user, so both cost the same time."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when password matches password_hash (None: an unknown user, always False)."""
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        return False
    stored = password_hash or dummy_hash()
    try:
        with HASHING:
            return hasher().verify(stored, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters than the current defaults."""
    return hasher().check_needs_rehash(password_hash)


# ---- service tokens --------------------------------------------------------------------


def new_token() -> str:
    """A fresh token: the prefix and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    """The hex SHA-256 under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def expiry(days: float, now: datetime | None = None) -> str | None:
    """The ISO time a token made now for days expires (None for days == 0: never)."""
    if days < 0:
        raise AccessError(f"--days {days}: must be 0 (never expires) or more")
    if days == 0:
        return None
    return ((now or datetime.now(UTC)) + timedelta(days=days)).isoformat(timespec="seconds")


def token_problem(row: dict[str, Any] | None, sha256: str, now: datetime) -> str | None:
    """Why a presented token's row does not let it in (None: it does)."""
    if row is None or not hmac.compare_digest(row["sha256"], sha256):
        return "unknown token"
    if row["revoked_at"]:
        return "token revoked"
    if row["expires_at"] and datetime.fromisoformat(row["expires_at"]) <= now:
        return "token expired"
    return None
