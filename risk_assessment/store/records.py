"""The system of record: one SQLite file, output_folder_path/store.db, and the only code
that reads or writes it (with tables.py, the rows, files.py, the original files, and
history.py, the run history, whose names it re-exports).

Everything one ingestion stores is committed in one transaction, so a crash leaves all of it
or none. The original project's files are exports, rewritten when missing, edited or
behind. A run opens the store once (Store) and passes it
down; every function also takes a folder and then opens the store for that one call.

Standard library only: the cron tick opens the store without importing pandas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from risk_assessment.core.common import FINALDATA, INGESTION_RECORD, now_iso, read_json

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.core.locking import WriterLock
from risk_assessment.store import files as store_files
from risk_assessment.store.bulk import Columns, store_source_rows  # noqa: F401
from risk_assessment.store.fresh import FRESH_CHUNK, Fresh, fresh_chunks, fresh_span
from risk_assessment.store.handle import (  # noqa: F401 (store.Store, store.STORE_FILE, ...)
    LEGACY_HISTORY,
    SCHEMA_VERSION,
    STORE_FILE,
    Store,
    Where,
    change_stamp,
    connection,
    folder_of,
    migrate,
    open_store,
    ready,
    store_path,
)
from risk_assessment.store.history import (  # noqa: F401 (store.record_run, ...)
    last_judged_run,
    prune_history,
    read_history,
    record_run,
)
from risk_assessment.store.readable import (
    not_read,
    other_schema_rows,
    select_columns,
    usable_sql,
)
from risk_assessment.store.tables import (  # noqa: F401 (store.Run, store.is_idle, ...)
    Run,
    add_value_columns,
    batch_dict,
    get_meta,
    insert_batch,
    insert_source,
    is_idle,
    save_ingestion_metrics,
    save_watermark,
    set_meta,
    transaction,
)

STEPS = ("ingested", "judged", "gated", "deployed", "done")


# ---- ingestion: one transaction per batch --------------------------------------------------


def commit_batch(
    folder: Where,
    sources: Sequence[tuple[str, dict[str, Any], Iterable[tuple]]],
    metrics: dict[str, Any],
    watermark: tuple[str, Any, list[str]] | None = None,
    schema: ColumnSchema = DEFAULT_SCHEMA,
) -> int | None:
    """Store one ingestion atomically: sources, their rows, the watermark, the metrics.

    Args:
        sources: (kind, record entry, rows) per source, rows as tuples of the schema's
            columns (id, features, target 1/0 or None when unlabelled, value), in order
            of arrival, or as those columns (store.Columns).
        metrics: the ingestion's metrics, stored with rows_new and rows_total filled in
            (read them back with ingestion_metrics).
        watermark: (source key, last value read, fingerprints of the rows at that value).
    Returns the batch id, or None when there was nothing to store. Each entry's rows_new
    (rows that are not exact repeats of an earlier observation) is filled in.
    """
    if not sources:
        return None
    with connection(folder) as db, transaction(db):
        add_value_columns(db, schema)
        batch = insert_batch(db)
        for kind, entry, rows in sources:
            source = insert_source(db, batch, kind, entry)
            entry["rows_new"] = store_source_rows(db, schema, source, rows)
            db.execute(
                "UPDATE sources SET entry = ? WHERE id = ?",
                (json.dumps(entry, default=str), source),
            )
        if watermark:
            save_watermark(db, *watermark)
        rows_new = sum(e.get("rows_new", 0) for _, e, _ in sources)
        save_ingestion_metrics(db, batch, {**metrics, "rows_new": rows_new})
        if not rows_new:  # nothing to judge: a batch of rejected files or repeats
            db.execute("UPDATE batches SET step = 'done' WHERE id = ?", (batch,))
    return batch


def ingestion_metrics(folder: Where, batch: int) -> dict[str, Any]:
    """The metrics stored with a batch's ingestion (rows_new and rows_total filled in)."""
    with connection(folder) as db:
        row = db.execute("SELECT metrics FROM ingestions WHERE batch_id = ?", (batch,)).fetchone()
    return json.loads(row[0])


# ---- what was seen -----------------------------------------------------------------------


def known_files(folder: Where) -> tuple[set[str], set[tuple]]:
    """(sha256 of every file handled, (path, size, mtime_ns) of every file handled)."""
    if not ready(folder):
        return set(), set()
    with connection(folder) as db:
        rows = db.execute("SELECT path, size, mtime_ns, sha256 FROM sources WHERE kind = 'file'")
        rows = rows.fetchall()
    return {r["sha256"] for r in rows}, {(r["path"], r["size"], r["mtime_ns"]) for r in rows}


def read_watermark(folder: Where, key: str) -> tuple[Any, list[str]]:
    """(last value read, fingerprints of rows read at that value) of a database source."""
    if not ready(folder):
        return None, []
    with connection(folder) as db:
        row = db.execute("SELECT value, boundary FROM watermarks WHERE source = ?", (key,))
        row = row.fetchone()
    return (json.loads(row[0]), json.loads(row[1] or "[]")) if row else (None, [])


# ---- batches: the steps of a run ----------------------------------------------------------


def pending_batch(folder: Where) -> dict[str, Any] | None:
    """The oldest batch whose run has not finished (step before done), or None."""
    if not ready(folder):
        return None
    with connection(folder) as db:
        row = db.execute(
            "SELECT * FROM batches WHERE step != 'done' ORDER BY id LIMIT 1"
        ).fetchone()
    return batch_dict(row) if row else None


def advance_batch(folder: Where, batch: int, step: str, **state: Any) -> dict[str, Any]:
    """Record that a batch reached step, merging state into what it holds; one commit."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}")
    with connection(folder) as db, transaction(db):
        row = db.execute("SELECT * FROM batches WHERE id = ?", (batch,)).fetchone()
        merged = {**json.loads(row["state"] or "{}"), **state}
        db.execute(
            "UPDATE batches SET step = ?, state = ?, updated_at = ? WHERE id = ?",
            (step, json.dumps(merged, default=str), now_iso(), batch),
        )
        row = db.execute("SELECT * FROM batches WHERE id = ?", (batch,)).fetchone()
    return batch_dict(row)


def batch_sources(folder: Where, batch: int) -> list[dict[str, Any]]:
    """The record entries of a batch's sources, in order of arrival."""
    with connection(folder) as db:
        rows = db.execute("SELECT entry FROM sources WHERE batch_id = ? ORDER BY id", (batch,))
        return [json.loads(r[0]) for r in rows]


def observation_query(db, sql: str, schema: ColumnSchema = DEFAULT_SCHEMA) -> str:
    """The SELECT of observation_rows(): (seq, *the schema's columns) of a query
    (FROM ... WHERE ... ORDER BY ...), only rows the schema can read."""
    head, _, order = sql.partition(" ORDER BY ")
    query = f"SELECT {select_columns(db, schema)} {head} AND {usable_sql(db, schema)}"
    return query + f" ORDER BY {order}"


def observation_rows(
    folder: Where, sql: str, params: tuple = (), schema: ColumnSchema = DEFAULT_SCHEMA
) -> list[tuple]:
    """(seq, *the schema's columns) of a query (FROM ... WHERE ...) over observations `o`
    (and sources `s`), only rows the schema can read; [] before the first ingestion."""
    if not ready(folder):
        return []
    with connection(folder) as db:
        cursor = db.cursor()
        cursor.row_factory = None  # plain tuples: much faster for 1,000,000 rows
        return cursor.execute(observation_query(db, sql, schema), params).fetchall()


def unusable_rows(folder: Where, schema: ColumnSchema = DEFAULT_SCHEMA) -> tuple[int, list[str]]:
    """(how many stored observations lack a column the schema needs: kept, never read;
    those columns). The dashboard's count too (lookups.not_trained)."""
    if not ready(folder):
        return 0, []
    with connection(folder) as db:
        return not_read(db, schema)


_BATCH_JOIN = "FROM observations o JOIN sources s ON o.source_id = s.id"


def batch_rows(folder: Where, batch: int, schema: ColumnSchema = DEFAULT_SCHEMA) -> list[tuple]:
    """(seq, *columns) of a batch's new observations (exact repeats left out)."""
    sql = f"{_BATCH_JOIN} WHERE s.batch_id = ? AND o.duplicate = 0 ORDER BY o.seq"
    return observation_rows(folder, sql, (batch,), schema)


_TRAINING_SET = f"{_BATCH_JOIN} WHERE o.exited IS NOT NULL AND o.duplicate = 0"


def training_rows(
    folder: Where, since_batch: int | None = None, schema: ColumnSchema = DEFAULT_SCHEMA
) -> list[tuple]:
    """(seq, *columns) of the training set: labelled observations, exact
    repeats dropped, in order of arrival; only those of batches >= since_batch when given."""
    where = "" if since_batch is None else " AND s.batch_id >= ?"
    params = () if since_batch is None else (since_batch,)
    return observation_rows(folder, f"{_TRAINING_SET}{where} ORDER BY o.seq", params, schema)


EXPORT_CHUNK = 50_000  # rows held at once while finaldata.csv is written


def training_chunks(
    db, schema: ColumnSchema, after_seq: int | None, before_seq: int | None = None
) -> Iterator[list[tuple]]:
    """The training set's rows (as the schema's columns, without seq) that arrived after
    observation after_seq (all when None) and before before_seq (when given),
    EXPORT_CHUNK at a time: a training set of millions of rows is written without
    holding it."""
    upto = "" if before_seq is None else " AND o.seq < ?"
    sql = observation_query(db, f"{_TRAINING_SET} AND o.seq > ?{upto} ORDER BY o.seq", schema)
    cursor = db.cursor()
    cursor.row_factory = None
    bounds = (-1 if after_seq is None else after_seq, *([] if before_seq is None else [before_seq]))
    cursor.execute(sql, bounds)
    while chunk := cursor.fetchmany(EXPORT_CHUNK):
        yield list(zip(*chunk, strict=True))[1:]


def latest_observations(folder: Where, schema: ColumnSchema = DEFAULT_SCHEMA) -> list[tuple]:
    """(seq, *columns) of the last observation to arrive of every client."""
    sql = "FROM observations o WHERE o.seq = (SELECT MAX(seq) FROM observations "
    return observation_rows(
        folder, sql + "WHERE corporation = o.corporation) ORDER BY o.seq", (), schema
    )


def client_observations(
    folder: Where, client: str, schema: ColumnSchema = DEFAULT_SCHEMA
) -> list[tuple]:
    """(seq, *columns) of every observation of one client, in order of arrival."""
    sql = "FROM observations o WHERE corporation = ? ORDER BY seq"
    return observation_rows(folder, sql, (client,), schema)


def all_observations(folder: Where, schema: ColumnSchema = DEFAULT_SCHEMA) -> list[tuple]:
    """(seq, *columns) of every observation, labelled or not, in order."""
    return observation_rows(folder, "FROM observations o WHERE 1 ORDER BY seq", (), schema)


# ---- exports: the original project's files, written from the store ------------------------


def refresh_exports(
    folder: Where, schema: ColumnSchema = DEFAULT_SCHEMA, fresh: Fresh | None = None
) -> bool:
    """Rewrite the exports from the store when missing, edited or behind; True if written.

    An export is never merged onto: it is rebuilt whole, so a deleted or hand-edited
    finaldata.csv cannot restart or poison the training set. The one exception: when
    the store has only gained observations since an unedited finaldata.csv was written
    under the same schema, the newer rows are added to its end (files.appendable).
    fresh: the values an ingestion just committed, written as they are when its rows are
    the newest observations (fresh.py) instead of read back.
    """
    if not ready(folder):
        return False
    with connection(folder) as db:
        fingerprint = [*store_files.export_fingerprint(db), schema.fingerprint()]
        out, recorded = folder_of(folder), get_meta(db, "exports", {})
        if store_files.exports_current(out, recorded, fingerprint):
            return False
        after = store_files.appendable(out, recorded, fingerprint)
        chunks = export_chunks(db, schema, after, fresh)
        record = store_files.ingestion_record(db)
        written = store_files.write_exports(out, chunks, record, schema, after is not None)
        with transaction(db):
            set_meta(db, "exports", {"fingerprint": fingerprint, **written})
    return True


def export_chunks(
    db, schema: ColumnSchema, after: int | None, fresh: Fresh | None
) -> Iterator[list[tuple]]:
    """The training set's rows after observation `after` (all when None), in chunks of
    columns: read from the store, except a fresh batch's own rows, taken from the values
    it bound."""
    span = fresh_span(db, fresh, after) if fresh is not None else None
    yield from training_chunks(db, schema, after, span.first if span else None)
    text = fresh.text.result() if span and not span.repeats and fresh.text else None
    if span is not None:  # the child's text (fresh_text.py) when it holds these rows
        yield from [text] if text else fresh_chunks(fresh, span, schema, FRESH_CHUNK)


def refresh_exports_if_free(folder: Path, schema: ColumnSchema, who: str) -> bool:
    """refresh_exports for a reading script (diagnostics, reporting), when no writer holds
    the workspace's lock: a writer at work rewrites the exports itself. So a finaldata.csv
    left behind by a schema since changed back is rewritten before it is read."""
    if not ready(folder):
        return False
    with WriterLock(folder, who) as lock:
        return lock.acquire() and refresh_exports(folder, schema)


def export_sha256(folder: Where, schema: ColumnSchema = DEFAULT_SCHEMA) -> str | None:
    """The sha256 of the finaldata.csv the store last wrote under this schema, when every
    row of the training set was stored under it too (None otherwise): bytes with this hash
    are rows judged by these very rules on their way in. Rows stored under an earlier
    schema (a bound tightened, a level removed) must be judged again."""
    if not ready(folder):
        return None
    with connection(folder) as db:
        recorded = get_meta(db, "exports", {})
        fingerprint = recorded.get("fingerprint") or []
        if len(fingerprint) != 3 or fingerprint[2] != schema.fingerprint():
            return None
        older = other_schema_rows(db, schema)
    return None if older else recorded.get(FINALDATA)


def load_record(folder: Where) -> dict[str, Any]:
    """The ingestion record of folder's store; an empty one before the first ingestion."""
    if not ready(folder):
        return {"files": [], "runs": []}
    with connection(folder) as db:
        return store_files.ingestion_record(db)


def read_record_file(folder: Path) -> dict[str, Any]:
    """The ingestion record exported into folder (a deployed version's copy); {} if none."""
    return read_json(Path(folder) / INGESTION_RECORD, {}) or {}
