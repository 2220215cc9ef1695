"""The original project's files, for the store: read once from an installation made before
the store existed, and written from the store as exports.

    ingestion_record.json  per source: name, sha256, counts, status; per run: metrics
    finaldata.csv          the training set (labelled rows, exact repeats dropped)
    ingestedfiles.txt      one ingested file name per line

A part of store.py, and only store.py imports it (the ingestion record is read and written
by the store only). Standard library only; pandas is loaded just to read an old
finaldata.csv, once.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from itertools import chain
from pathlib import Path
from typing import Any

from risk_assessment.core.common import (
    FINALDATA,
    INGESTED_FILES,
    INGESTION_RECORD,
    escape_text,
    read_json,
    sha256_file,
    write_atomic,
    write_atomic_parts,
    write_json,
)

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.store.tables import (
    RUN_FIELDS,
    add_value_columns,
    insert_batch,
    insert_row,
    insert_source,
    insert_sql,
    save_watermark,
)

EXPORTS = (FINALDATA, INGESTED_FILES, INGESTION_RECORD)

# ---- reading an installation made before the store existed ---------------------------


def legacy_record(folder: Path) -> dict[str, Any] | None:
    """The old ingestion record of folder, if it names any file or database source."""
    record = read_json(Path(folder) / INGESTION_RECORD, None)
    if isinstance(record, dict) and (record.get("files") or record.get("database")):
        return record
    return None


def legacy_rows(path: Path) -> list[tuple]:
    """The valid rows of an old finaldata.csv. Old code could write poisoned values (say
    -9223372036854775808 for a huge number), so the rows go through dataset.py's rules
    like any input; bad ones are left out (imported once, so pandas is loaded here only)."""
    if not path.exists():
        return []
    from risk_assessment.schema.dataset import clean_rows, read_raw_csv

    clean, reasons = clean_rows(read_raw_csv(path, DEFAULT_SCHEMA), DEFAULT_SCHEMA)
    if reasons:
        logging.getLogger("store").warning(
            "%s: %d row(s) of the old training set left out (%s)",
            path, sum(reasons.values()), ", ".join(f"{k}: {v}" for k, v in reasons.items()),
        )  # fmt: skip
    return [
        (str(c), *map(int, values))
        for c, *values in clean[DEFAULT_SCHEMA.columns].itertuples(index=False, name=None)
    ]


def legacy_history(path: Path) -> list[dict[str, Any]]:
    """The runs of an old run history (an SQLite file), oldest first; [] if unreadable."""
    if not path.exists():
        return []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as old:
        old.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in old.execute("SELECT * FROM runs ORDER BY id")]
        except sqlite3.DatabaseError:
            return []  # not a history we can read: leave it, start a new one


# ---- the exports -----------------------------------------------------------------------


def ingestion_record(db: sqlite3.Connection) -> dict[str, Any]:
    """The ingestion record in its JSON layout, from the store: files, database, runs."""
    files, batches = [], []
    for row in db.execute("SELECT kind, entry FROM sources ORDER BY id"):
        entry = json.loads(row["entry"])
        (files if row["kind"] == "file" else batches if row["kind"] == "database" else []).append(
            entry
        )
    runs = [json.loads(r[0]) for r in db.execute("SELECT metrics FROM ingestions ORDER BY id")]
    record: dict[str, Any] = {"files": files, "runs": runs}
    marks = db.execute("SELECT source, value FROM watermarks").fetchall()
    if marks or batches:
        source = json.loads(marks[-1][0]) if marks else None
        watermark = json.loads(marks[-1][1]) if marks else None
        record["database"] = {"source": source, "watermark": watermark, "batches": batches}
    return record


def export_fingerprint(db: sqlite3.Connection) -> list[int]:
    """What the exports reflect: the last observation and the last source."""
    return list(
        db.execute(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM observations), "
            "(SELECT COALESCE(MAX(id), 0) FROM sources)"
        ).fetchone()
    )


def exports_current(folder: Path, recorded: dict[str, Any], fingerprint: list[int]) -> bool:
    """True if every export exists, is unedited (its sha256 as recorded) and reflects the
    store as it is (recorded at the same fingerprint)."""
    if recorded.get("fingerprint") != fingerprint:
        return False
    for name in EXPORTS:
        path = folder / name
        if recorded.get(name) and (not path.exists() or sha256_file(path) != recorded[name]):
            return False
    return True


def rows_csv(rows: Iterable[Sequence], schema: ColumnSchema, header: bool = True) -> str:
    """Stored rows (the schema's columns) as CSV text, with the header unless asked not
    to (ids written exactly as stored, the target 1/0; the csv module writes None as an
    empty cell and a float exactly, as repr does)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(schema.columns)
    writer.writerows(rows)
    return buffer.getvalue()


# a text cell the csv module may quote or escape: left to it
_CAREFUL = re.compile(r'[,"\x00-\x1f\x7f]')
_NONE = type(None)
_PLAIN = {str, int, float, _NONE}


def cell_texts(values: Sequence) -> list[str] | None:
    """One column's cells as csv.writer writes them in a row of several fields: None as
    empty, an int or float by str (a float's str is its repr), text as it is. None when
    the column mixes kinds, holds another type, or text csv.writer would quote. A numpy
    array of ints or floats (NaN: missing) is written as its values would be."""
    if hasattr(values, "dtype"):  # a numpy array of numbers (store/fresh.py)
        return number_texts(values, values.dtype.kind == "f")
    kinds = set(map(type, values))
    if not kinds <= _PLAIN or len(kinds - {_NONE}) > 1:
        return None
    if kinds <= {str, _NONE}:  # text, or nothing but missing values
        texts = ["" if v is None else v for v in values] if _NONE in kinds else list(values)
        return None if _CAREFUL.search("".join(texts)) else texts
    return number_texts(values, float in kinds)


def number_texts(values: Sequence, floats: bool) -> list[str]:
    """A column of ints or of floats (None missing) as text, each distinct value formatted
    once (counts and amounts in cents repeat a lot; str of a float costs 0.3 us). pandas'
    factorize finds the distinct values, a float by its bits, so 0.0 and -0.0 stay two.
    numpy and pandas are imported here: the store's idle reads stay standard library."""
    import numpy as np
    import pandas as pd

    if floats:  # None is nan here (a stored number is never nan: SQLite keeps it NULL)
        codes, bits = pd.factorize(np.asarray(values, dtype=float).view(np.int64))
        words = ["" if d != d else str(d) for d in bits.view(np.float64).tolist()]
    else:
        try:
            array = np.asarray(values, dtype=np.int64)
        except (TypeError, OverflowError):  # None, or beyond int64: as Python objects
            array = np.array(values, dtype=object)
        codes, distinct = pd.factorize(array)  # None: code -1
        words = [str(d) for d in distinct.tolist()]
    return np.array([*words, ""], dtype=object)[codes].tolist()  # code -1: ""


def bound_values(values: Sequence) -> Sequence:
    """A column as the values bound to the store: a numpy array (store/fresh.py) as
    Python numbers, NaN as None."""
    if not hasattr(values, "dtype"):
        return values
    out = values.tolist()
    return [None if v != v else v for v in out] if values.dtype.kind == "f" else out


def columns_csv(columns: Sequence[Sequence], schema: ColumnSchema) -> str:
    """Stored rows given as columns (the schema's, in order) as CSV lines without the
    header: rows_csv's very bytes, made a column at a time (about twice as fast for a
    million rows); columns cell_texts cannot write leave the rows to the csv module."""
    texts = [cell_texts(values) for values in columns]
    if len(columns) < 2 or any(t is None for t in texts):
        return rows_csv(zip(*map(bound_values, columns), strict=True), schema, header=False)
    lines = "\n".join(map(",".join, zip(*texts, strict=True)))
    return lines + ("\n" if lines else "")


def appendable(folder: Path, recorded: dict[str, Any], fingerprint: list) -> int | None:
    """The last observation finaldata.csv holds when the store has only gained rows since
    it was written (same schema, same sources up to it, the file unedited): the export
    then grows by the newer rows instead of being rebuilt. None: rebuild it whole."""
    before = recorded.get("fingerprint") or []
    path = folder / FINALDATA
    if len(before) != 3 or before[2] != fingerprint[2] or before[0] > fingerprint[0]:
        return None
    if not recorded.get(FINALDATA) or not path.exists():
        return None
    return before[0] if sha256_file(path) == recorded[FINALDATA] else None


def write_exports(
    folder: Path,
    chunks: Iterable[Sequence[Sequence]],
    record: dict[str, Any],
    schema: ColumnSchema,
    append: bool = False,
) -> dict[str, str]:
    """Write finaldata.csv from the training set's rows in chunks, each given as its
    columns or as its CSV lines made already (bytes) (when there are rows or it exists;
    with append, the rows are added to its end), the ingestion record and
    ingestedfiles.txt, each atomically; returns the sha256 of each written."""
    written = {}
    path = folder / FINALDATA
    chunks = iter(chunks)
    first = next(chunks, [])
    if append or first or path.exists():
        texts = (
            c if isinstance(c, bytes) else columns_csv(c, schema) for c in chain([first], chunks)
        )
        head = [] if append else [rows_csv([], schema)]
        write_atomic_parts(path, chain(head, texts), keep=append)
        written[FINALDATA] = sha256_file(path)
    write_json(folder / INGESTION_RECORD, record)
    written[INGESTION_RECORD] = sha256_file(folder / INGESTION_RECORD)
    names = [escape_text(e["name"], 255) for e in record["files"] if e["status"] == "ingested"]
    write_atomic(folder / INGESTED_FILES, "".join(f"{n}\n" for n in names))
    written[INGESTED_FILES] = sha256_file(folder / INGESTED_FILES)
    return written


def import_legacy(db: sqlite3.Connection, folder: Path, history: Path) -> None:
    """Take over an installation's ingestion record, finaldata.csv and run history.

    The old files are read, never changed: the imported rows form one batch marked done
    (the old code judged them already), and the old run history is copied.
    """
    record = legacy_record(folder)
    if record is not None:
        batch = insert_batch(db, "done")
        for entry in record.get("files", []):
            insert_source(db, batch, "file", entry)
        rows = legacy_rows(folder / FINALDATA)
        source = insert_source(
            db, batch, "legacy", {"name": FINALDATA, "status": "imported", "rows_kept": len(rows)}
        )
        add_value_columns(db, DEFAULT_SCHEMA)
        db.executemany(insert_sql(DEFAULT_SCHEMA, source), rows)
        database = record.get("database") or {}
        if database.get("source"):
            key = json.dumps(database["source"], sort_keys=True)
            save_watermark(db, key, database.get("watermark"), [])
        for metrics in record.get("runs", []):
            insert_row(db, "ingestions", {"batch_id": batch, "metrics": json.dumps(metrics)})
    for row in legacy_history(history):
        insert_row(db, "runs", {k: v for k, v in row.items() if k in RUN_FIELDS})
