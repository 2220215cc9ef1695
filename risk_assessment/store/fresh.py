"""The rows an ingestion has just committed, written to finaldata.csv from the values it
bound instead of read back from store.db.

Reading a million rows of 24 columns back out of SQLite as Python values costs about as
much as writing them there (3-4 s); the ingestion still holds those very values. SQLite
gives back what it was given (the value columns have no declared type: an int stays an
int, a float the same float, text the same text), so csv.writer writes the same bytes
from either; tests/store/test_fresh.py checks that byte for byte on awkward values.

The values are used only when the batch's rows are exactly the newest observations, one
unbroken run of seq in the order given; otherwise the export is read from the store as
before. A part of store.py; standard library only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any

from risk_assessment.core.columns import ColumnSchema

# a fresh batch's values are held already: only its chunk's text is extra (about 25 MB for
# 250,000 rows of 22 columns), and each chunk formats its distinct numbers once
FRESH_CHUNK = 250_000


@dataclass
class Fresh:
    """The values one ingestion bound: per source of the batch, in the order committed, its
    columns (the schema's stored order: id, features, target 1/0 or None, value) as lists,
    or as numpy arrays holding the same numbers (sources/stored.py; NaN for None)."""

    batch: int
    sources: Sequence[Sequence[list]]
    new: int | None = None  # how many of the rows the store found new (None: not known)
    text: Any = None  # a fresh_text.FreshText making the rows' text meanwhile, or None

    def rows(self) -> int:
        """How many rows the sources hold together."""
        return sum(len(columns[0]) for columns in self.sources if columns)


@dataclass
class Span:
    """Where a fresh batch sits in the store: its first seq, and the seqs of its rows the
    store flagged as exact repeats of earlier observations."""

    first: int
    repeats: set[int]


_BATCH = "FROM observations o JOIN sources s ON o.source_id = s.id WHERE s.batch_id = ?"


def fresh_span(db: sqlite3.Connection, fresh: Fresh, after: int | None) -> Span | None:
    """The batch's Span when its rows are the store's newest observations, one unbroken run
    of seq after observation `after` (None: the export is written whole), as many as fresh
    holds; None when they are not (the export then reads them from the store)."""
    first, last, count = db.execute(
        f"SELECT MIN(o.seq), MAX(o.seq), COUNT(*) {_BATCH}", (fresh.batch,)
    ).fetchone()
    newest = db.execute("SELECT MAX(seq) FROM observations").fetchone()[0]
    if not count or count != fresh.rows() or last - first + 1 != count or last != newest:
        return None
    if after is not None and after >= first:
        return None
    if fresh.new == count:  # no repeat among them: nothing to look up
        return Span(first, set())
    repeats = db.execute(f"SELECT o.seq {_BATCH} AND o.duplicate = 1", (fresh.batch,))
    return Span(first, {seq for (seq,) in repeats})


def kept(column: Any, keep: list[bool]) -> Any:
    """The values of a column (a list, or a numpy array of numbers) where keep is True."""
    if isinstance(column, list):
        return list(compress(column, keep))
    return column[keep]  # an array: by a boolean mask (it converts the list itself)


def fresh_chunks(fresh: Fresh, span: Span, schema: ColumnSchema, size: int) -> Iterator[list[list]]:
    """The batch's rows of the training set (labelled, not a repeat), at most size at a
    time in order of seq, each chunk as the schema's columns."""
    target = 1 + len(schema.features)
    start = span.first
    for columns in fresh.sources:
        n = len(columns[0]) if columns else 0
        keep = [t is not None for t in columns[target]] if n else []
        for seq in span.repeats:
            if start <= seq < start + n:
                keep[seq - start] = False
        for a in range(0, n, size):
            chunk = [column[a : a + size] for column in columns]
            if not all(keep[a : a + size]):
                chunk = [kept(column, keep[a : a + size]) for column in chunk]
            if chunk[0]:
                yield chunk
        start += n
