"""The store's tables: their schema, the Run row of the history, and the statements that
write rows, each on an open connection inside the caller's transaction.

A part of store.py, and only store.py imports it: store.py opens the file, migrates it and
answers the pipeline's questions; this module knows the rows. Standard library only.

Tables
    observations  every valid row ever ingested, in order of arrival (seq), with its source:
                  the client id, `exited` (NULL for an unlabelled row: a current client,
                  outcome unknown), the fingerprint of the schema it was stored under, and
                  one "v:<name>" column per schema column (docs/design.md)
    sources       every input file or database batch seen: sha256, counts, reasons, status
    batches       what one ingestion stored together, and how far its run got:
                  ingested -> judged -> gated -> deployed -> done, with verdict and decision
    watermarks    per database source: the last value read and the rows read at that value
    ingestions    per ingestion: metrics (time, rows, seconds)
    runs          the history of fullprocess runs; idle ticks fold into one row per stretch
    meta          schema version, export fingerprints
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from risk_assessment.core.common import now_iso

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema


@dataclass
class Run:
    """What one fullprocess run saw and decided; one row of the history.

    The history table's columns are these fields: a new field is a new column, added to an
    existing store when it is opened (text fields as TEXT, the rest as JSON text).
    """

    started_at: str = field(default_factory=now_iso)
    ended_at: str | None = None
    seconds: float | None = None
    dry_run: bool = False
    ticks: int = 1  # idle ticks folded into this row
    batch_id: int | None = None
    step: str | None = None  # how far the batch got in this run
    new_files: list[str] = field(default_factory=list)
    new_rows: int = 0
    unlabelled_rows: int = 0
    deployed_version: str | None = None
    deployed_f1: float | None = None
    batch_f1: float | None = None
    batch_f1_low: float | None = None
    batch_f1_high: float | None = None
    drift_rule: str | None = None
    drift_threshold: float | None = None
    model_drift: bool | None = None
    data_drift: bool | None = None
    data_drift_share: float | None = None
    data_drift_psi: dict[str, float] | None = None
    data_drift_shares: dict[str, list[float]] | None = None  # the batch's bin shares
    estimated_f1: float | None = None  # label-free estimate on the unlabelled rows
    verdict: dict[str, Any] | None = None  # every test's numbers (monitoring)
    gate: dict[str, Any] | None = None  # the retrained candidate against the live model
    decision: str = "none"
    reason: str = ""
    new_f1: float | None = None
    new_version: str | None = None
    error: str | None = None


RUN_FIELDS = [f.name for f in fields(Run)]
# annotations are strings here (from __future__ import annotations)
TEXT_FIELDS = {f.name for f in fields(Run) if f.type in ("str", "str | None")}

# the observations' indexes by name (store/bulk.py drops and builds them for a big source)
OBSERVATION_INDEXES = {
    "observations_row": "CREATE INDEX IF NOT EXISTS observations_row "
    "ON observations(corporation, exited)",
    "observations_source": "CREATE INDEX IF NOT EXISTS observations_source "
    "ON observations(source_id)",
}

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)""",
    """CREATE TABLE IF NOT EXISTS batches (
        id INTEGER PRIMARY KEY, created_at TEXT, step TEXT, updated_at TEXT,
        state TEXT NOT NULL DEFAULT '{}')""",
    """CREATE TABLE IF NOT EXISTS sources (
        id INTEGER PRIMARY KEY, batch_id INTEGER, kind TEXT, name TEXT, path TEXT,
        sha256 TEXT, size INTEGER, mtime_ns INTEGER, status TEXT, entry TEXT)""",
    """CREATE INDEX IF NOT EXISTS sources_sha ON sources(sha256)""",
    # the client id (whatever the schema names it) in `corporation`, the outcome 1/0 (NULL:
    # unlabelled) in `exited`, the fingerprint of the schema a row was stored under in
    # `schema`; each schema column's value in a column "v:<name>" (add_value_columns)
    """CREATE TABLE IF NOT EXISTS observations (
        seq INTEGER PRIMARY KEY, source_id INTEGER NOT NULL, corporation TEXT NOT NULL,
        exited INTEGER, duplicate INTEGER NOT NULL DEFAULT 0, schema TEXT)""",
    *OBSERVATION_INDEXES.values(),
    """CREATE TABLE IF NOT EXISTS watermarks (source TEXT PRIMARY KEY, value TEXT,
        boundary TEXT)""",
    """CREATE TABLE IF NOT EXISTS ingestions (id INTEGER PRIMARY KEY, batch_id INTEGER,
        metrics TEXT)""",
    """CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY)""",
    # version 3: who may see and change what (accounts.py), and the worklist
    """CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL,
        password_hash TEXT NOT NULL, created_at TEXT NOT NULL,
        session_epoch INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS tokens (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT,
        revoked_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL,
        actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, address TEXT,
        detail TEXT)""",
    """CREATE INDEX IF NOT EXISTS audit_action ON audit(action, target)""",
    """CREATE TABLE IF NOT EXISTS contacts (id INTEGER PRIMARY KEY, corporation TEXT NOT NULL,
        at TEXT NOT NULL, actor TEXT NOT NULL, outcome TEXT NOT NULL, note TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS contacts_client ON contacts(corporation, at)""",
]


# ---- schema and meta ------------------------------------------------------------------


def schema_version(db: sqlite3.Connection) -> int:
    """The version recorded in meta; 0 for a store without one."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def missing_run_columns(db: sqlite3.Connection) -> list[str]:
    """The Run fields the runs table has no column for."""
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    return [name for name in RUN_FIELDS if name not in have]


def add_run_columns(db: sqlite3.Connection) -> None:
    """ALTER TABLE runs ADD COLUMN for every Run field the table lacks."""
    for name in missing_run_columns(db):
        db.execute(f"ALTER TABLE runs ADD COLUMN {name} TEXT")


class transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (a context manager)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, exc, tb) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def get_meta(db: sqlite3.Connection, key: str, default: Any = None) -> Any:
    """A JSON value from meta."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


def set_meta(db: sqlite3.Connection, key: str, value: Any) -> None:
    """Store a JSON value in meta (inside the caller's transaction)."""
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))


# ---- the schema's value columns ---------------------------------------------------------


def value_column(name: str) -> str:
    """The quoted store column of a schema column: "v:<name>" (any name is safe)."""
    return '"v:' + name.replace('"', '""') + '"'


def stored_names(schema: ColumnSchema) -> list[str]:
    """The schema columns kept per observation besides id and target: features, value."""
    extra = [schema.value] if schema.value and schema.value not in schema.feature_names else []
    return [*schema.feature_names, *extra]


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def sqlite_fold(name: str) -> str:
    """A column name as SQLite compares names: ASCII letters in any case, others exactly
    ("Seats" and "seats" are one column; "Région" and "région" are two)."""
    return name.translate(_ASCII_LOWER)


def value_columns(db: sqlite3.Connection) -> set[str]:
    """The schema column names the observations table has a "v:" column for, folded as
    SQLite folds them (sqlite_fold)."""
    names = [row[1] for row in db.execute("PRAGMA table_info(observations)")]
    return {sqlite_fold(n[2:]) for n in names if n.startswith("v:")}


def add_value_columns(db: sqlite3.Connection, schema: ColumnSchema) -> None:
    """ALTER TABLE for every schema column the observations table lacks (no declared type:
    SQLite keeps each value as given, integer, real or text), and record the schema under
    its fingerprint (meta `schemas`), inside the caller's transaction."""
    have = value_columns(db)
    for name in stored_names(schema):
        if sqlite_fold(name) not in have:
            db.execute(f"ALTER TABLE observations ADD COLUMN {value_column(name)}")
    schemas = get_meta(db, "schemas", {})
    if schema.fingerprint() not in schemas:
        set_meta(db, "schemas", {**schemas, schema.fingerprint(): schema.to_dict()})


def extra_names(schema: ColumnSchema) -> list[str]:
    """The stored columns after the target: the value column, unless it is a feature."""
    return stored_names(schema)[len(schema.features) :]


# The stored columns of the id and target roles keep the default schema's names (those of
# version 1-2 stores), whatever the user's columns are called.
STORED_ID, STORED_TARGET = DEFAULT_SCHEMA.id, DEFAULT_SCHEMA.target.column


def insert_sql(schema: ColumnSchema, source: int) -> str:
    """INSERT of one observation of a source: the schema's columns in order (id, features,
    target 1/0/None, value) as parameters. The source's id and the schema's fingerprint
    (16 hex digits) are written into the statement: a million rows are bound without a
    tuple made per row to prepend them."""
    fingerprint = schema.fingerprint()
    if not fingerprint.isalnum():
        raise ValueError(f"schema fingerprint {fingerprint!r} is not hexadecimal")
    features = [value_column(f) for f in schema.feature_names]
    extra = [value_column(n) for n in extra_names(schema)]
    columns = ", ".join([STORED_ID, *features, STORED_TARGET, *extra])
    marks = ", ".join("?" * (2 + len(features) + len(extra)))
    return (
        f"INSERT INTO observations (source_id, schema, {columns}) "
        f"VALUES ({int(source)}, '{fingerprint}', {marks})"
    )


# A version 1-2 store held exactly the default schema's features as plain columns.
LEGACY_FEATURES = tuple(DEFAULT_SCHEMA.feature_names)


def upgrade_observations(db: sqlite3.Connection, schema: ColumnSchema) -> None:
    """Move the observations of a version 1-2 store (the course's three INTEGER NOT NULL
    columns) into the layout of version 3, in SQL, inside the caller's transaction."""
    have = {row[1] for row in db.execute("PRAGMA table_info(observations)")}
    if not set(LEGACY_FEATURES) <= have:
        return
    db.execute("ALTER TABLE observations RENAME TO observations_v2")
    db.execute("DROP INDEX IF EXISTS observations_row")
    db.execute("DROP INDEX IF EXISTS observations_source")
    for statement in SCHEMA:
        db.execute(statement)
    add_value_columns(db, schema)
    columns = ", ".join(value_column(n) for n in LEGACY_FEATURES)
    db.execute(
        f"INSERT INTO observations (seq, source_id, corporation, exited, duplicate, schema, "
        f"{columns}) SELECT seq, source_id, corporation, exited, duplicate, ?, "
        f"{', '.join(LEGACY_FEATURES)} FROM observations_v2",
        (schema.fingerprint(),),
    )
    db.execute("DROP TABLE observations_v2")


# ---- writing rows ---------------------------------------------------------------------


def insert_batch(db: sqlite3.Connection, step: str = "ingested") -> int:
    """A new batch row; returns its id."""
    now = now_iso()
    cur = db.execute(
        "INSERT INTO batches (created_at, step, updated_at) VALUES (?, ?, ?)", (now, step, now)
    )
    return int(cur.lastrowid)


def insert_source(db: sqlite3.Connection, batch: int, kind: str, entry: dict[str, Any]) -> int:
    """A sources row for a file or database entry; returns its id."""
    cur = db.execute(
        "INSERT INTO sources (batch_id, kind, name, path, sha256, size, mtime_ns, status, entry)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            batch,
            kind,
            entry.get("name"),
            entry.get("path"),
            entry.get("sha256"),
            entry.get("size"),
            entry.get("mtime_ns"),
            entry.get("status"),
            json.dumps(entry, default=str),
        ),
    )
    return int(cur.lastrowid)


def insert_row(db: sqlite3.Connection, table: str, values: dict[str, Any]) -> int:
    """INSERT one row of {column: value} into table; returns its id."""
    names = list(values)
    cur = db.execute(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        [values[n] for n in names],
    )
    return int(cur.lastrowid)


def save_watermark(db: sqlite3.Connection, key: str, value: Any, boundary: list[str]) -> None:
    """Record how far a database source was read (inside the caller's transaction)."""
    db.execute(
        "INSERT OR REPLACE INTO watermarks VALUES (?, ?, ?)",
        (key, json.dumps(value), json.dumps(boundary)),
    )


def save_ingestion_metrics(db: sqlite3.Connection, batch: int, metrics: dict[str, Any]) -> None:
    """Store an ingestion's metrics with the training set's size after it (rows_total)."""
    total = db.execute(
        "SELECT COUNT(*) FROM observations WHERE exited IS NOT NULL AND duplicate = 0"
    ).fetchone()[0]
    db.execute(
        "INSERT INTO ingestions (batch_id, metrics) VALUES (?, ?)",
        (batch, json.dumps({**metrics, "rows_total": total}, default=str)),
    )


def mark_duplicates(
    db: sqlite3.Connection, source: int, schema: ColumnSchema, only: list[int] | None = None
) -> int:
    """Flag this source's just inserted rows that repeat an earlier observation exactly
    (every schema column, under the same schema); returns how many. only: the seqs of the
    only rows that can be repeats (store/bulk.py), None for all the source's rows."""
    same = "".join(
        f" AND o.{c} IS observations.{c}" for c in map(value_column, stored_names(schema))
    )
    rows, params = "source_id = ?", [source]
    if only is not None:
        rows = "seq IN (SELECT value FROM json_each(?)) AND source_id = ?"
        params = [json.dumps(only), source]
    if only == []:
        return 0
    return db.execute(
        f"""UPDATE observations SET duplicate = 1 WHERE {rows} AND EXISTS (
                SELECT 1 FROM observations o WHERE o.seq < observations.seq
                AND o.corporation = observations.corporation
                AND o.exited IS observations.exited AND o.schema IS observations.schema{same})""",
        params,
    ).rowcount


# ---- reading rows back ---------------------------------------------------------------


def batch_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A batches row with its state decoded."""
    return {
        "id": row["id"],
        "step": row["step"],
        "created_at": row["created_at"],
        **json.loads(row["state"] or "{}"),
    }


def encode_run(run: Run) -> dict[str, Any]:
    """A Run as column values: text fields as they are, the rest as JSON."""
    row = asdict(run)
    return {k: v if v is None or k in TEXT_FIELDS else json.dumps(v) for k, v in row.items()}


def decode_run(row: dict[str, Any]) -> dict[str, Any]:
    """A runs row back to Python values (the inverse of encode_run)."""
    out = dict(row)
    for key, value in row.items():
        if key in RUN_FIELDS and key not in TEXT_FIELDS and isinstance(value, str):
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError:
                out[key] = value  # a hand-edited cell: show it, do not fail the history
    return out


def is_idle(run: Run) -> bool:
    """A run that found nothing to do."""
    return run.batch_id is None and not run.error and run.decision == "none" and not run.dry_run


def is_idle_row(row: dict[str, Any]) -> bool:
    """A history row written by an idle run."""
    return row.get("batch_id") is None and not row.get("error") and row.get("decision") == "none"
