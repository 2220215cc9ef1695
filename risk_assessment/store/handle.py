"""The store as a handle: where store.db lives, opening it (created and migrated on first
use), and Store, the open store a run or a request passes down.

Standard library only. The functions of records.py take a Store or a folder.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from risk_assessment.core.common import INGESTION_RECORD, DataError, stamp

from risk_assessment.core.columns import DEFAULT_SCHEMA
from risk_assessment.store import files as store_files
from risk_assessment.store.tables import (
    SCHEMA,
    add_run_columns,
    add_value_columns,
    missing_run_columns,
    schema_version,
    set_meta,
    transaction,
    upgrade_observations,
)

STORE_FILE = "store.db"
LEGACY_HISTORY = "runs.db"  # the run history before the store existed
SCHEMA_VERSION = 3


# ---- opening, schema, migration ------------------------------------------------------------


def store_path(folder: Path) -> Path:
    """Where the store of an output folder lives."""
    return Path(folder) / STORE_FILE


def open_store(folder: Path) -> sqlite3.Connection:
    """The store of folder, created and migrated to SCHEMA_VERSION on first use.

    WAL journal: readers (the API) never block the writer; synchronous=FULL: a committed
    transaction survives a crash of the machine, not only of the process.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fresh = not store_path(folder).exists()
    db = sqlite3.connect(store_path(folder), timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA cache_size=-65536")
        migrate(db, folder, fresh)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise DataError(f"{store_path(folder)}: not a usable store ({exc})") from None
    return db


class Store:
    """An open store, migrated once: a run opens it (`with Store(folder) as db`) and passes
    it down; given a folder instead, a function below opens the store for that one call."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.db = open_store(self.folder)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()


Where = Store | Path


def folder_of(where: Where) -> Path:
    """The output folder of a store or of a folder."""
    return where.folder if isinstance(where, Store) else Path(where)


def change_stamp(where: Where) -> tuple:
    """(mtime_ns, size) of store.db and of its write-ahead log, None for one absent: it
    changes with every commit (a commit lands in the log first, and store.db itself
    changes only when the log is copied back). The key of caches of what is read."""
    db = store_path(folder_of(where))
    return stamp(db, db.with_name(db.name + "-wal"))


@contextmanager
def connection(where: Where) -> Iterator[sqlite3.Connection]:
    """The connection of an open Store, or one opened (and closed) for this call."""
    if isinstance(where, Store):
        yield where.db
        return
    with closing(open_store(where)) as db:
        yield db


def ready(folder: Where) -> bool:
    """True when folder has a store (an open Store has); an installation made before the
    store existed (its ingestion record is there) is imported first, so no reader sees it
    as empty."""
    if isinstance(folder, Store) or store_path(folder).exists():
        return True
    if (Path(folder) / INGESTION_RECORD).exists() or (Path(folder) / LEGACY_HISTORY).exists():
        open_store(folder).close()
        return True
    return False


def migrate(db: sqlite3.Connection, folder: Path, fresh: bool) -> None:
    """Bring the store forward to SCHEMA_VERSION, one transaction per step.

    Version 1 held observations, sources, batches and runs; version 2 adds the verdict
    to runs; version 3 keeps each observation's schema columns in "v:" columns with the
    schema's fingerprint (the course's three columns move there) and adds users, tokens,
    audit and contacts (accounts.py). Run columns are
    also added whenever Run gains a field, so an older store
    never makes a later tick fail on a missing column.
    """
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise DataError(
            f"{store_path(folder)}: schema version {version} is newer than this code's "
            f"{SCHEMA_VERSION}; update the code"
        )
    if version < SCHEMA_VERSION:
        with transaction(db):
            if version in (1, 2):
                upgrade_observations(db, DEFAULT_SCHEMA)
            for statement in SCHEMA:
                db.execute(statement)
            add_value_columns(db, DEFAULT_SCHEMA)  # the course's columns are always there
            add_run_columns(db)
            if fresh or version == 0:
                store_files.import_legacy(db, folder, folder / LEGACY_HISTORY)
            set_meta(db, "schema_version", SCHEMA_VERSION)
    elif missing_run_columns(db):  # only then a write: readers never wait on each other
        with transaction(db):
            add_run_columns(db)
