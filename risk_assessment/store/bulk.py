"""Storing one source's rows: the insert, the indexes and the exact-repeat flags, sized to
the source.

Measured on 1,000,000 rows of 24 columns (benchmarks/bench_schema.py, docs/benchmarks.md):
- Keeping the two observation indexes up to date row by row costs more than building them
  afresh once the rows are in, when the rows are many next to those stored: in client-id
  order 3.2 s against 2.1 s + 0.5 s; in random order (a real export) 6.8 s against
  2.2 s + 0.8 s. A source at least as large as the store so far (a first load, a history
  file) drops them and builds them again after its rows, inside the same transaction: a
  crash rolls the drop back with everything else.
- The exact-repeat check asks, per row, whether an earlier observation has the same id and
  values (an index look-up: 0.5-2 s for a million rows). A row can only repeat one that
  has its id: when the store held no row before the source, only rows whose id occurs
  more than once in the source are asked; when every id is distinct, none is.

A part of store.py; standard library only.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from risk_assessment.core.columns import ColumnSchema
from risk_assessment.store.tables import OBSERVATION_INDEXES, insert_sql, mark_duplicates

BIG_SOURCE = 50_000  # rows from which the page cache is enlarged for the insert
CACHE_KIB = 131_072  # that cache: 128 MiB (pages are taken only as the insert needs them)


class Columns:
    """A source's rows given as columns (lists of equal length, the schema's stored order):
    iterated as row tuples for the insert; the ids read without making a tuple per row."""

    def __init__(self, columns: Sequence[list]):
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def __iter__(self) -> Iterator[tuple]:
        return zip(*self.columns, strict=True)

    def ids(self) -> list[Any]:
        return list(self.columns[0]) if self.columns else []


def as_rows(rows: Any) -> Columns | Sequence[tuple]:
    """Rows that can be counted and read twice (an iterator is read into a list; inside
    the caller's transaction, so a failure while reading it stores nothing)."""
    return rows if isinstance(rows, (Columns, list, tuple)) else list(rows)


def ids_of(rows: Columns | Sequence[tuple]) -> list[Any]:
    """The client id of every row, in order."""
    return rows.ids() if isinstance(rows, Columns) else [row[0] for row in rows]


def repeated_rows(ids: list[Any], first: int) -> list[int]:
    """The seqs (first, first + 1, ...) of the rows whose id occurs more than once."""
    if len(set(ids)) == len(ids):
        return []
    counts = Counter(ids)
    return [first + i for i, x in enumerate(ids) if counts[x] > 1]


def store_source_rows(db: sqlite3.Connection, schema: ColumnSchema, source: int, rows: Any) -> int:
    """Insert a source's rows (in order: they take the next seqs), flag the exact repeats
    of earlier observations; returns how many rows are new. Inside the caller's
    transaction."""
    rows = as_rows(rows)
    newest = db.execute("SELECT MAX(seq) FROM observations").fetchone()[0]
    stored = newest or 0
    rebuild = len(rows) > 0 and len(rows) >= stored  # the source at least doubles the store
    if len(rows) >= BIG_SOURCE:
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    if rebuild:
        for name in OBSERVATION_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {name}")
    db.executemany(insert_sql(schema, source), iter(rows))
    if rebuild:
        for statement in OBSERVATION_INDEXES.values():
            db.execute(statement)
    # with no earlier row, only a row whose id recurs in this source can be a repeat
    only = None if newest is not None else repeated_rows(ids_of(rows), stored + 1)
    return len(rows) - mark_duplicates(db, source, schema, only)
