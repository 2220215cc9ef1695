"""The logic under ingestion.py: validating new files and database rows and storing them in the
store.

What it reads and writes, and the command: the docstring of ingestion.py.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from risk_assessment.core.common import (
    DataError,
    escape_text,
    now_iso,
)

import pandas as pd

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.schema.dataset import clean_rows, describe, parse_csv
from risk_assessment.sources.database import DatabaseRead, read_new_rows
from risk_assessment.sources.scan import file_stamp, redact_url, scan_input, watermark_key
from risk_assessment.sources.stored import stored_columns
from risk_assessment.store import records as store
from risk_assessment.store.fresh_text import FreshText

log = logging.getLogger("ingestion")
MAX_ERROR_CHARS = 300  # an error quoted in the record or the log


@dataclass
class FileResult:
    """What ingesting one source gave: its clean rows and its entry for the record."""

    entry: dict[str, Any]
    data: pd.DataFrame | None = None
    kind: str = "file"


@dataclass
class IngestionResult:
    """Outcome of one ingestion; nothing is stored until save_ingestion()."""

    files: list[FileResult] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # content handled before
    settling: list[Path] = field(default_factory=list)  # still being written: next tick
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    database: FileResult | None = None  # the rows read from input_database, if any
    database_error: str | None = None  # why the database could not be read
    watermark: tuple[str, Any, list[str]] | None = None  # (key, value, boundary rows)
    metrics: dict[str, Any] = field(default_factory=dict)
    batch_id: int | None = None  # set once stored
    schema: ColumnSchema = DEFAULT_SCHEMA  # the columns the rows were read in

    @property
    def sources(self) -> list[FileResult]:
        """The new files, then the database batch."""
        return self.files + ([self.database] if self.database else [])

    @property
    def ingested(self) -> list[FileResult]:
        return [f for f in self.sources if f.entry["status"] == "ingested"]

    @property
    def rejected(self) -> list[FileResult]:
        return [f for f in self.sources if f.entry["status"] == "rejected"]

    @property
    def new_rows(self) -> pd.DataFrame:
        """Every row read in this ingestion (before the store drops exact repeats)."""
        frames = [f.data for f in self.ingested if f.data is not None]
        rows = pd.concat(frames, ignore_index=True) if frames else None
        rows = pd.DataFrame(columns=self.schema.columns) if rows is None else rows
        rows.attrs = {"target": self.schema.target.column}
        return rows


def source_entry(name: str, status: str, **extra: Any) -> dict[str, Any]:
    """A record entry for one source (a file or a database batch), counts at zero."""
    return {
        "name": escape_text(name, 255),
        **extra,
        "status": status,
        "rows_read": 0,
        "rows_kept": 0,
        "rows_rejected": 0,
        "rows_new": 0,
        "rows_unlabelled": 0,
        "reasons": {},
        "error": None,
        "time": now_iso(),
    }


def check_file(
    path: Path, max_bad_share: float, schema: ColumnSchema = DEFAULT_SCHEMA
) -> FileResult:
    """Validate one input file; a bad file becomes a 'rejected' entry, never an exception."""
    try:
        stamp, raw = file_stamp(path), path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    digest = hashlib.sha256(raw).hexdigest()  # of the bytes read, even if it just changed
    entry = source_entry(path.name, "rejected", path=str(path), sha256=digest, **stamp)
    try:
        table = parse_csv(raw, str(path), schema)
    except DataError as exc:
        entry["error"] = escape_text(str(exc).removeprefix(f"{path}: "), MAX_ERROR_CHARS)
        return FileResult(entry)
    return judge_rows(entry, table, max_bad_share, schema)


def judge_rows(
    entry: dict[str, Any],
    table: pd.DataFrame,
    max_bad_share: float,
    schema: ColumnSchema = DEFAULT_SCHEMA,
) -> FileResult:
    """Keep a source's valid rows; reject the whole source when too many are bad.

    The entry names the columns the schema does not know (ignored) and, per reason, the
    first bad value (examples)."""
    clean, reasons = clean_rows(table, schema, allow_unlabelled=True)
    entry.update(
        rows_read=len(table),
        rows_rejected=len(table) - len(clean),
        rows_unlabelled=int(clean[schema.target.column].isna().sum()),
        reasons=dict(reasons),
        examples={k: escape_text(v, 40) for k, v in clean.attrs["examples"].items()},
        ignored_columns=[escape_text(c, 40) for c in clean.attrs["ignored"]],
    )
    bad_share = entry["rows_rejected"] / max(len(table), 1)
    if clean.empty or bad_share > max_bad_share:
        entry["error"] = escape_text(
            f"{bad_share:.0%} of rows invalid ({describe(reasons, entry['examples'])})",
            MAX_ERROR_CHARS,
        )
        return FileResult(entry)
    entry.update(status="ingested", rows_kept=len(clean))
    return FileResult(entry, clean)


def ingest(
    input_folder: Path,
    output_folder: Path,
    settings: dict[str, Any] | None = None,
    database: dict[str, Any] | None = None,
    schema: ColumnSchema = DEFAULT_SCHEMA,
) -> IngestionResult:
    """Find the input files (and database rows) not handled before and validate them.

    Stores nothing. An unreachable database is noted in database_error; files go on.
    settings: the config's `ingestion` section (max_bad_row_share, settle_seconds).
    """
    settings = {"max_bad_row_share": 0.5, "settle_seconds": 0.0, **(settings or {})}
    start = time.perf_counter()
    result = IngestionResult(schema=schema)
    known_sha, known_stamps = store.known_files(output_folder)
    scan = scan_input(input_folder, known_sha, known_stamps, settings["settle_seconds"])
    result.skipped, result.settling, result.unreadable = (
        scan.skipped,
        scan.settling,
        scan.unreadable,
    )
    for path, _ in scan.new:
        try:
            result.files.append(check_file(path, settings["max_bad_row_share"], schema))
        except DataError as exc:  # unreadable now: not recorded, tried again next tick
            result.unreadable.append((path, str(exc).removeprefix(f"{path}: ")))
    if database and database["url"]:
        try:
            result.database, result.watermark = read_database(database, output_folder, schema)
        except DataError as exc:
            result.database_error = escape_text(str(exc), MAX_ERROR_CHARS)
    result.metrics = run_metrics(result, input_folder, time.perf_counter() - start)
    return result


def run_metrics(result: IngestionResult, input_folder: Path, seconds: float) -> dict[str, Any]:
    """The per-run metrics of the record (rows_new is filled in when stored)."""
    return {
        "time": now_iso(),
        "input_folder": str(input_folder),
        "files_ingested": [f.entry["name"] for f in result.ingested],
        "files_rejected": [f.entry["name"] for f in result.rejected],
        "rows_read": sum(f.entry["rows_read"] for f in result.sources),
        "rows_kept": sum(f.entry["rows_kept"] for f in result.ingested),
        "rows_unlabelled": sum(f.entry["rows_unlabelled"] for f in result.ingested),
        "rows_new": None,
        "database_error": result.database_error,
        "seconds": round(seconds, 4),
    }


# ---- the database source ---------------------------------------------------------------------


def read_database(
    settings: dict[str, Any], output_folder: Path, schema: ColumnSchema = DEFAULT_SCHEMA
):
    """Rows at or above the watermark not read before, in chunks, validated like a file.

    Returns (FileResult or None when nothing is new, (key, new watermark, fingerprints of
    the rows at it)); DataError when unreadable.
    """
    key = watermark_key(settings)
    watermark, boundary = store.read_watermark(output_folder, key)
    entry = source_entry(
        f"database:{settings['table'] or 'query'}",
        "ingested",
        source=redact_url(settings["url"]),
        watermark_from=watermark,
        watermark_to=watermark,
    )
    read = read_new_rows(settings, watermark, boundary, schema)
    if not read.rows_read:
        return None, None
    entry.update(rows_read=read.rows_read, watermark_to=read.last)
    return finish_database(entry, read, schema), (key, read.last, read.boundary)


def finish_database(
    entry: dict[str, Any], read: DatabaseRead, schema: ColumnSchema = DEFAULT_SCHEMA
) -> FileResult:
    """The database batch's result from its validated chunks."""
    data = pd.concat(read.parts, ignore_index=True)
    entry.update(
        rows_kept=len(data),
        rows_rejected=entry["rows_read"] - len(data),
        rows_unlabelled=int(data[schema.target.column].isna().sum()),
        reasons=dict(read.reasons),
        ignored_columns=[escape_text(c, 40) for c in read.ignored],  # logged by log_source
    )
    if data.empty:
        entry.update(status="rejected", error=f"every row invalid ({describe(read.reasons)})")
        entry["rows_kept"] = 0
        return FileResult(entry, kind="database")
    return FileResult(entry, data, kind="database")


# ---- storing ------------------------------------------------------------------------------------


class Stored(NamedTuple):
    """What storing an ingestion gave."""

    batch_id: int | None  # None when there was nothing to store
    metrics: dict[str, Any]  # the run's metrics as stored (rows_new, rows_total filled in)


def save_ingestion(output_folder: Path, result: IngestionResult) -> Stored:
    """Commit the ingestion to the store in one transaction, then refresh the exports.

    A crash before the commit leaves nothing (the next run reads the same sources again);
    a crash after it leaves everything, and the exports are rewritten on the next run.
    Each source's entry gets its rows_new (store.commit_batch).
    """
    schema = result.schema
    pairs = [stored_columns(f.data, schema) for f in result.sources]
    columns, export = [c for c, _ in pairs], [e for _, e in pairs]
    rows = [store.Columns(c) for c in columns]  # the ids are read without a tuple per row
    sources = [(f.kind, f.entry, r) for f, r in zip(result.sources, rows, strict=True)]
    # a big batch's export text is made by a child meanwhile (store/fresh_text.py)
    text = FreshText.start(store.folder_of(output_folder), export, schema)
    try:
        batch = store.commit_batch(output_folder, sources, result.metrics, result.watermark, schema)
        # the export writes the batch's rows from the values just bound, not read back
        new = sum(f.entry.get("rows_new", 0) for f in result.sources)
        fresh = store.Fresh(batch, export, new, text) if batch is not None else None
        store.refresh_exports(output_folder, schema, fresh)
    finally:
        if text is not None:
            text.close()
    if batch is None:
        return Stored(None, result.metrics)
    return Stored(batch, store.ingestion_metrics(output_folder, batch))


def log_result(result: IngestionResult) -> None:
    """One log line per source, then a summary with the numbers."""
    if result.skipped:
        log.info("skipped %d file(s) already ingested or rejected before", len(result.skipped))
    for path in result.settling:
        log.info("%s: modified moments ago, may still be written; left for the next run", path)
    for path, why in result.unreadable:
        log.warning("%s: cannot read (%s); left for the next run", path, why)
    for f in result.sources:
        log_source(f.entry)
    if result.database_error:
        log.warning("%s (files are ingested without it)", result.database_error)
    m = result.metrics
    if m["rows_new"] is None and not result.sources:
        log.info("nothing new to ingest; %.3f s", m["seconds"])
        return
    log.info(
        "ingested %d source(s), rejected %d; %d rows kept (%d unlabelled), %s new; %.3f s",
        len(m["files_ingested"]),
        len(m["files_rejected"]),
        m["rows_kept"],
        m["rows_unlabelled"],
        m["rows_new"] or 0,  # None: nothing was stored
        m["seconds"],
    )


def log_source(e: dict[str, Any]) -> None:
    """The log lines of one source: kept and new rows, or why it was rejected."""
    where = e.get("path") or e["name"]
    if e["status"] == "rejected":
        log.warning("%s: rejected: %s", where, e["error"])
        return
    marks = (
        f" (watermark {e['watermark_from']} -> {e['watermark_to']})" if "watermark_to" in e else ""
    )
    log.info(
        "%s: %d rows read%s, %d kept (%d unlabelled), %d new",
        e["name"],
        e["rows_read"],
        marks,
        e["rows_kept"],
        e["rows_unlabelled"],
        e["rows_new"],
    )
    if e["rows_rejected"]:
        log.warning(
            "%s: dropped %d bad row(s) (%s)",
            where,
            e["rows_rejected"],
            describe(Counter(e["reasons"]), e.get("examples")),
        )
    if e.get("ignored_columns"):
        log.info("%s: ignored columns: %s", where, ", ".join(e["ignored_columns"]))


def ingest_configured(config: dict[str, Any], db: store.Store | None = None) -> IngestionResult:
    """ingest() with the folders, settings and database of a loaded config (and the run's
    open store when it passes one down)."""
    return ingest(
        config["input_folder_path"],
        config["output_folder_path"] if db is None else db,
        config["ingestion"],
        config["input_database"],
        config["schema"],
    )


def run_ingestion(config: dict[str, Any], db: store.Store | None = None) -> IngestionResult:
    """Ingest and store with the settings of a loaded config (the caller holds the lock);
    a run passes its open store down as db."""
    schema = config["schema"]
    where = config["output_folder_path"] if db is None else db  # a run's open store
    store.refresh_exports(where, schema)  # a deleted export comes back
    result = ingest_configured(config, db)
    # rows stored under an earlier schema that lack a column this one needs
    result.metrics["rows_not_trained"], lacking = store.unusable_rows(where, schema)
    result.batch_id, result.metrics = save_ingestion(where, result)
    if result.metrics.get("rows_not_trained"):
        log.warning(
            "%d stored row(s) lack a column the current schema needs (%s): kept, not trained "
            "on; they were stored under an earlier schema (docs/own-data.md)",
            result.metrics["rows_not_trained"],
            ", ".join(lacking),
        )
    log_result(result)
    return result
