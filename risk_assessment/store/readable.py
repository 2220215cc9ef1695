"""Which stored observations the current schema can read, and the columns to read.

Each observation keeps the fingerprint of the schema it was stored under (meta `schemas`
maps each fingerprint to its schema). A row stored under an earlier schema is read when
that schema had every feature the current one requires, with a compatible type, and no
required value is missing; other rows stay in the store, never trained on or scored
(counted by records.unusable_rows; not_read also names the columns why). A part of
store.py; standard library only.
"""

from __future__ import annotations

import sqlite3

from risk_assessment.core.columns import ColumnSchema
from risk_assessment.store.tables import (
    get_meta,
    sqlite_fold,
    stored_names,
    value_column,
    value_columns,
)

FITS = {("integer", "number"), ("boolean", "integer"), ("boolean", "number")}  # old, new


def stored_types(stored: dict) -> dict[str, str]:
    """{column, folded as SQLite folds names: its type} of the columns rows stored under
    `stored` (a schema as to_dict() writes it) hold: its features, and its value column
    (a number) that a later schema may list as a feature."""
    had = {sqlite_fold(n): spec.get("type") for n, spec in stored.get("features", {}).items()}
    value = stored.get("value")  # a column name, or {column, label}
    value = value.get("column") if isinstance(value, dict) else value
    if value:
        had.setdefault(sqlite_fold(value), "number")
    return had


def unreadable_features(stored: dict, schema: ColumnSchema) -> list[str]:
    """The features of schema that rows stored under `stored` cannot give: absent though
    required, or stored with an incompatible type. Names match as SQLite's columns do (a
    feature renamed in another case of ASCII letters reads the same column)."""
    had = stored_types(stored)
    return [
        f.name
        for f in schema.features
        if not (
            had.get(sqlite_fold(f.name)) == f.type
            or (had.get(sqlite_fold(f.name)), f.type) in FITS
            or (had.get(sqlite_fold(f.name)) is None and not f.required)
        )
    ]


def usable_schemas(db: sqlite3.Connection, schema: ColumnSchema) -> list[str]:
    """The fingerprints of the stored schemas whose rows the schema can read: each of its
    required features was stored with a compatible type (an integer reads as a number)."""
    stored = get_meta(db, "schemas", {}).items()
    return [fingerprint for fingerprint, s in stored if not unreadable_features(s, schema)]


def usable_sql(db: sqlite3.Connection, schema: ColumnSchema) -> str:
    """A condition on observations `o`: stored under a usable schema, no required value
    missing. Other rows are kept in the store, not read (counted by unusable_rows)."""
    marks = ", ".join(f"'{fp}'" for fp in usable_schemas(db, schema) if fp.isalnum()) or "''"
    have = value_columns(db)
    needed = [f.name for f in schema.features if f.required]
    if any(sqlite_fold(name) not in have for name in needed):
        return "0"
    not_null = "".join(f" AND o.{value_column(n)} IS NOT NULL" for n in needed)
    return f"(o.schema IN ({marks}){not_null})"


def select_columns(db: sqlite3.Connection, schema: ColumnSchema) -> str:
    """seq, then the schema's columns in order (NULL for one the store lacks)."""
    have = value_columns(db)
    names = stored_names(schema)
    values = [f"o.{value_column(n)}" if sqlite_fold(n) in have else "NULL" for n in names]
    n = len(schema.features)
    return ", ".join(["o.seq", "o.corporation", *values[:n], "o.exited", *values[n:]])


def not_read(db: sqlite3.Connection, schema: ColumnSchema) -> tuple[int, list[str]]:
    """(how many stored observations the schema cannot read, the columns why): one counting
    query. A column is named when the rows' schema lacked it or held another type, or held
    it as optional while the schema requires it (some of its values are missing)."""
    sql = f"SELECT o.schema, COUNT(*) FROM observations o WHERE NOT {usable_sql(db, schema)}"
    groups = db.execute(sql + " GROUP BY o.schema").fetchall()
    schemas, names = get_meta(db, "schemas", {}), {}
    required = [f.name for f in schema.features if f.required]
    for fingerprint, _ in groups:
        stored = schemas.get(fingerprint) or {}
        had = {sqlite_fold(n): spec for n, spec in stored.get("features", {}).items()}
        optional = [n for n in required if (had.get(sqlite_fold(n)) or {}).get("required") is False]
        names.update(dict.fromkeys(unreadable_features(stored, schema) or optional))
    return sum(n for _, n in groups), list(names)


def other_schema_rows(db: sqlite3.Connection, schema: ColumnSchema) -> bool:
    """Whether a labelled, non-repeat observation was stored under another schema than
    this one. Every row of a source was stored under one schema (insert_sql writes it into
    the statement), so one row per source tells (an index look-up each) and only the
    sources stored under another schema are searched: asked of every row, the question
    read a million rows on every training run (0.45 s)."""
    found = db.execute(
        "SELECT EXISTS (SELECT 1 FROM observations WHERE exited IS NOT NULL AND duplicate = 0 "
        "AND schema IS NOT :fp AND source_id IN (SELECT s.id FROM sources s WHERE "
        "(SELECT schema FROM observations WHERE source_id = s.id LIMIT 1) IS NOT :fp))",
        {"fp": schema.fingerprint()},
    )
    return bool(found.fetchone()[0])
