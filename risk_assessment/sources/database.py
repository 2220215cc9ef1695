"""Reading the input database: the rows at or above the watermark, in chunks, validated
like a file's.

A part of ingestion.py (only ingestion.py imports it). Rows tying with the last value read
are never skipped: the store remembers which rows were read at that value (their
fingerprints), and only those are dropped on the next read.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from risk_assessment.core.common import DataError, first_line, sqlite_file

import pandas as pd
import sqlalchemy

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.schema.dataset import clean_rows, schema_table
from risk_assessment.sources.scan import redact_url, select_sql


@dataclass
class DatabaseRead:
    """What reading the database's new rows gave, chunk by chunk."""

    watermark: Any  # the value read up to before (None: everything is new)
    seen: Counter  # fingerprints of rows at that value read before: dropped once each
    last: Any  # the new watermark: the last value read
    boundary: list[str]  # fingerprints of the rows read at `last`
    parts: list[pd.DataFrame] = field(default_factory=list)  # the valid rows of each chunk
    reasons: Counter = field(default_factory=Counter)  # why rows were invalid
    rows_read: int = 0
    ignored: list[str] = field(default_factory=list)  # columns the schema does not know


def json_value(value: Any) -> Any:
    """A watermark value as plain JSON: int, float or ISO text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def text_cells(chunk: pd.DataFrame, source: str, schema: ColumnSchema) -> pd.DataFrame:
    """Database values as the stripped text cells clean_rows() expects (NULL -> ''), under
    the schema's column names (matched as a file's header is)."""
    cells = chunk.apply(lambda col: col.astype("string").fillna("").str.strip())
    return schema_table(cells, f"database {source}", schema, ("id", "target"))


def fingerprint(row: tuple) -> str:
    """A short hash of a database row's values: which rows at the watermark were read."""
    values = json.dumps([json_value(v) for v in row], default=str)
    return hashlib.sha256(values.encode()).hexdigest()[:32]


def drop_seen(chunk: pd.DataFrame, column: str, watermark: Any, seen: Counter) -> pd.DataFrame:
    """The chunk without rows at the old watermark that an earlier read already took."""
    if watermark is None or not seen:
        return chunk
    keep = []
    at_mark = chunk[column].map(json_value) == watermark
    for at, row in zip(at_mark, chunk.itertuples(index=False), strict=True):
        prints = fingerprint(tuple(row)) if at else None
        if at and seen[prints] > 0:
            seen[prints] -= 1
            keep.append(False)
        else:
            keep.append(True)
    return chunk[keep]


def read_new_rows(
    settings: dict[str, Any],
    watermark: Any,
    boundary: list[str],
    schema: ColumnSchema = DEFAULT_SCHEMA,
) -> DatabaseRead:
    """The rows at or above the watermark not read before (boundary: the fingerprints of
    the rows read at it), validated chunk by chunk; DataError when unreadable."""
    source = redact_url(settings["url"])
    read = DatabaseRead(watermark, Counter(boundary), watermark, list(boundary))
    path = sqlite_file(settings["url"])
    if path is not None and not Path(path).exists():
        raise DataError(f"database {source}: file not found")  # connecting would create it
    engine = sqlalchemy.create_engine(settings["url"])
    try:
        mode = "all" if watermark is None else "from"
        sql = select_sql(settings, mode, engine.dialect.identifier_preparer.quote)
        with engine.connect().execution_options(stream_results=True) as conn:
            chunks = pd.read_sql(
                sqlalchemy.text(sql),
                conn,
                params={"wm": watermark},
                chunksize=int(settings["chunk_rows"]),
            )
            for chunk in chunks:
                read_chunk(chunk, settings["watermark_column"], source, read, schema)
    except (sqlalchemy.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        raise DataError(f"database {source}: {first_line(exc)}") from None
    finally:
        engine.dispose()
    return read


def read_chunk(
    chunk: pd.DataFrame,
    column: str,
    source: str,
    read: DatabaseRead,
    schema: ColumnSchema = DEFAULT_SCHEMA,
) -> None:
    """Validate one chunk into read, and move the watermark and its boundary rows along."""
    if column not in chunk.columns:
        raise DataError(f"database {source}: missing column(s) {column}")
    header = text_cells(chunk.head(0), source, schema)  # the needed columns, or DataError
    read.ignored = [c for c in header.attrs["ignored"] if c != column]  # the watermark: used
    chunk = drop_seen(chunk, column, read.watermark, read.seen)
    if chunk.empty:  # pandas yields one empty chunk when nothing is new
        return
    clean, bad = clean_rows(text_cells(chunk, source, schema), schema, allow_unlabelled=True)
    read.parts.append(clean)
    read.reasons.update(bad)
    read.rows_read += len(chunk)
    values = chunk[column].map(json_value)
    last = values.iloc[-1]
    at_last = [fingerprint(tuple(r)) for r in chunk[values == last].itertuples(index=False)]
    read.boundary = (read.boundary if last == read.last else []) + at_last
    read.last = json_value(last)
