"""Ingestion: validate new CSV files, merge them with what was ingested before, de-duplicate.

Reads   every *.csv in input_folder_path (never changes them)
Writes  output_folder_path/finaldata.csv       all valid rows ever ingested, no duplicates
        output_folder_path/ingestedfiles.txt   one ingested file name per line
        output_folder_path/ingestion_record.json  per file: name, sha256, rows read, kept,
                                               rejected and why, time; per run: metrics
Run     python ingestion.py [--config config.json]
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    COLUMNS,
    FEATURES,
    FINALDATA,
    ID_COLUMN,
    INGESTED_FILES,
    INGESTION_RECORD,
    TARGET,
    DataError,
    cli_parser,
    database_key,
    database_watermark,
    file_stamp,
    first_line,
    load_config,
    load_ingestion_record,
    now_iso,
    redact_url,
    run_cli,
    scan_input,
    select_sql,
    sha256_file,
    write_atomic,
    write_json,
)

import numpy as np
import pandas as pd
import sqlalchemy

log = logging.getLogger("ingestion")


@dataclass
class FileResult:
    """What ingesting one file gave: its clean rows and its entry for the record."""

    entry: dict[str, Any]
    data: pd.DataFrame | None = None


@dataclass
class IngestionResult:
    """Outcome of one ingestion run; nothing is written until save_ingestion()."""

    finaldata: pd.DataFrame | None
    new_rows: pd.DataFrame | None = None  # rows not ingested before: the new batch
    files: list[FileResult] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # content already handled before
    metrics: dict[str, Any] = field(default_factory=dict)

    database: FileResult | None = None  # the rows read from input_database, if any
    database_error: str | None = None  # why the database could not be read
    database_settings: dict[str, Any] | None = None

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


def decode_text(source: str, raw: bytes) -> str:
    """CSV bytes as text; DataError for empty, binary or non-UTF-8 content."""
    if not raw.strip():
        raise DataError(f"{source}: empty file")
    if b"\x00" in raw:
        raise DataError(f"{source}: binary content, not a CSV file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text (bad byte at offset {exc.start})") from None


def parse_csv(
    raw: bytes, source: str, required: list[str] = COLUMNS, optional: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Parse CSV bytes as text cells, checking the required columns are there.

    Returns the required columns, then any optional ones present, every cell a stripped
    string. Raises DataError naming the source and the problem.
    """
    text = decode_text(source, raw)
    try:
        with warnings.catch_warnings():
            # index_col=False stops pandas from silently taking an extra first-row field
            # as an index (shifting every column); it warns instead, which we refuse
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, index_col=False
            )
    except pd.errors.ParserWarning:
        raise DataError(
            f"{source}: malformed CSV (a row has more fields than the header)"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: empty file") from None
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise DataError(f"{source}: malformed CSV ({reason})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        found = ", ".join(table.columns[:8]) or "none"
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (found: {found})")
    if table.empty:
        raise DataError(f"{source}: header only, no data rows")
    keep = [*required, *(c for c in optional if c in table.columns and c not in required)]
    return table[keep].apply(lambda col: col.str.strip())


def read_raw_csv(
    path: str | Path, required: list[str] = COLUMNS, optional: tuple[str, ...] = ()
) -> pd.DataFrame:
    """parse_csv() of a file; DataError naming the file when it cannot be read."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_csv(raw, str(path), required, optional)


def count_reasons(raw: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per row: True when valid, and the first reason a row is bad ('' when valid)."""
    reason = pd.Series("", index=raw.index, dtype=object)

    def flag(mask: pd.Series, text: str) -> None:
        reason[mask & (reason == "")] = text

    if ID_COLUMN in raw:
        flag(raw[ID_COLUMN] == "", f"missing {ID_COLUMN}")
    for col in [c for c in [*FEATURES, TARGET] if c in raw]:
        values = pd.to_numeric(raw[col], errors="coerce").astype(float)
        flag(raw[col] == "", f"missing {col}")
        flag(values.isna() | ~np.isfinite(values.fillna(0)), f"non-numeric {col}")
        if col == TARGET:
            flag(~values.isin([0, 1]), f"{col} not 0 or 1")
        else:
            flag(values < 0, f"negative {col}")
            flag(values.notna() & (values != np.floor(values)), f"non-integer {col}")
    return reason == "", reason


def clean_rows(raw: pd.DataFrame) -> tuple[pd.DataFrame, Counter]:
    """Valid rows with typed columns, and a count of bad rows per reason."""
    valid, reason = count_reasons(raw)
    reasons = Counter(reason[~valid].tolist())
    clean = raw[valid].copy()
    for col in [c for c in [*FEATURES, TARGET] if c in clean]:
        clean[col] = pd.to_numeric(clean[col]).astype("int64")
    if ID_COLUMN in clean:
        clean[ID_COLUMN] = clean[ID_COLUMN].astype(str)
    return clean.reset_index(drop=True), reasons


def read_typed(path: Path, required: list[str]) -> pd.DataFrame | None:
    """Fast path: the file read with the schema's types, if every check passes; else None.

    Clean files (finaldata.csv, test data) load about ten times faster this way; any
    doubt falls back to the text path, which names the problem precisely.
    """
    numeric = [c for c in (*FEATURES, TARGET) if c in required]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            data = pd.read_csv(
                path,
                dtype={ID_COLUMN: str, **dict.fromkeys(numeric, "int64")},
                keep_default_na=False,
                index_col=False,
            )
    except (ValueError, OSError, Warning, pd.errors.ParserError):
        return None
    data.columns = [str(c).strip().lower() for c in data.columns]
    if data.empty or any(c not in data.columns for c in required):
        return None
    data = data[required]
    if (data[numeric] < 0).any().any():
        return None
    if TARGET in required and not data[TARGET].isin([0, 1]).all():
        return None
    if ID_COLUMN in required:
        ids = data[ID_COLUMN].astype(str)
        if (ids.str.strip() == "").any() or (ids != ids.str.strip()).any():
            return None
        data[ID_COLUMN] = ids
    return data.reset_index(drop=True)


def load_dataset(path: str | Path, required: list[str] = COLUMNS) -> pd.DataFrame:
    """A schema-checked dataset for training, scoring or prediction; bad rows are errors."""
    typed = read_typed(Path(path), required) if Path(path).is_file() else None
    if typed is not None:
        return typed
    clean, reasons = clean_rows(read_raw_csv(path, required))
    if reasons:
        raise DataError(f"{Path(path)}: {sum(reasons.values())} bad row(s): {describe(reasons)}")
    return clean


def describe(reasons: Counter) -> str:
    """'non-numeric x: 2, negative y: 1', most frequent first."""
    return ", ".join(f"{text}: {n}" for text, n in reasons.most_common())


def new_entry(name: str, status: str, **extra: Any) -> dict[str, Any]:
    """A record entry for one source (a file or a database batch), counts at zero."""
    return {
        "name": name,
        **extra,
        "status": status,
        "rows_read": 0,
        "rows_kept": 0,
        "rows_rejected": 0,
        "rows_new": 0,
        "reasons": {},
        "error": None,
        "time": now_iso(),
    }


def check_file(path: Path, digest: str, max_bad_share: float) -> FileResult:
    """Validate one input file; a bad file becomes a 'rejected' entry, never an exception."""
    entry = new_entry(path.name, "rejected", path=str(path), sha256=digest, **file_stamp(path))
    typed = read_typed(path, COLUMNS)  # a clean file needs no row-by-row text checks
    if typed is not None:
        entry.update(status="ingested", rows_read=len(typed), rows_kept=len(typed))
        return FileResult(entry, typed)
    try:
        raw = read_raw_csv(path)
    except DataError as exc:
        entry["error"] = str(exc).removeprefix(f"{path}: ")
        return FileResult(entry)
    clean, reasons = clean_rows(raw)
    entry.update(rows_read=len(raw), rows_rejected=len(raw) - len(clean), reasons=dict(reasons))
    bad_share = entry["rows_rejected"] / len(raw)
    if clean.empty or bad_share > max_bad_share:
        entry["error"] = f"{bad_share:.0%} of rows invalid ({describe(reasons)})"
        return FileResult(entry)
    entry.update(status="ingested", rows_kept=len(clean))
    return FileResult(entry, clean)


def merge_new_rows(
    previous: pd.DataFrame | None, results: list[FileResult]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(all rows, new rows): previous rows plus the new files' rows, exact duplicates
    dropped (first kept), and the rows that were not there before.

    Sets each ingested entry's rows_new: how many of its rows were not seen before.
    """
    frames = [] if previous is None else [previous.assign(_src=-1)]
    frames += [r.data.assign(_src=i) for i, r in enumerate(results) if r.data is not None]
    if not frames:
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=COLUMNS)
    merged = pd.concat(frames, ignore_index=True).drop_duplicates(subset=COLUMNS, keep="first")
    new_counts = merged["_src"].value_counts()
    for i, r in enumerate(results):
        if r.data is not None:
            r.entry["rows_new"] = int(new_counts.get(i, 0))
    new = merged[merged["_src"] >= 0].drop(columns="_src").reset_index(drop=True)
    return merged.drop(columns="_src").reset_index(drop=True), new


def load_finaldata(output_folder: Path) -> pd.DataFrame | None:
    """The previously ingested data, or None before the first ingestion."""
    path = output_folder / FINALDATA
    return load_dataset(path) if path.exists() else None


def ingest(
    input_folder: Path,
    output_folder: Path,
    max_bad_share: float = 0.5,
    database: dict[str, Any] | None = None,
) -> IngestionResult:
    """Find the input files (and database rows) not handled before, validate and merge them.

    Writes nothing. An unreachable database is noted in database_error; files go on.
    """
    start = time.perf_counter()
    record = load_ingestion_record(output_folder)
    result = IngestionResult(finaldata=None, new_rows=pd.DataFrame(columns=COLUMNS))
    new, result.skipped = scan_input(input_folder, record)
    result.files = [check_file(path, digest, max_bad_share) for path, digest in new]
    if database and database["url"]:
        result.database_settings = database
        try:
            result.database = read_database(database, database_watermark(record, database))
        except DataError as exc:
            result.database_error = str(exc)
    if result.ingested:
        result.finaldata, result.new_rows = merge_new_rows(
            load_finaldata(output_folder), result.sources
        )
    result.metrics = {
        "time": now_iso(),
        "input_folder": str(input_folder),
        "files_ingested": [f.entry["name"] for f in result.ingested],
        "files_rejected": [f.entry["name"] for f in result.rejected],
        "rows_read": sum(f.entry["rows_read"] for f in result.sources),
        "rows_new": sum(f.entry["rows_new"] for f in result.ingested),
        "rows_total": None if result.finaldata is None else len(result.finaldata),
        "database_error": result.database_error,
        "seconds": round(time.perf_counter() - start, 4),
    }
    return result


def text_cells(chunk: pd.DataFrame) -> pd.DataFrame:
    """Database values as the stripped text cells clean_rows() expects (NULL -> '')."""
    return chunk[COLUMNS].apply(lambda col: col.astype("string").fillna("").str.strip())


def read_database(settings: dict[str, Any], watermark: Any) -> FileResult | None:
    """Rows above the watermark, read in chunks and validated like a file's rows.

    Returns None when there is no new row; DataError when the database cannot be read.
    """
    source = redact_url(settings["url"])
    column = settings["watermark_column"]
    entry = new_entry(
        f"database:{settings['table'] or 'query'}",
        "ingested",
        source=source,
        watermark_from=watermark,
        watermark_to=watermark,
    )
    parts, reasons = [], Counter()
    sqlite_file = settings["url"].removeprefix("sqlite:///").partition("?")[0]
    if settings["url"].startswith("sqlite:///") and not Path(sqlite_file).exists():
        raise DataError(f"database {source}: file not found")  # connecting would create it
    engine = sqlalchemy.create_engine(settings["url"])
    try:
        sql = select_sql(settings, watermark is not None, engine.dialect.identifier_preparer.quote)
        with engine.connect().execution_options(stream_results=True) as conn:
            chunks = pd.read_sql(
                sqlalchemy.text(sql),
                conn,
                params={"wm": watermark},
                chunksize=int(settings["chunk_rows"]),
            )
            for chunk in chunks:
                missing = [c for c in [column, *COLUMNS] if c not in chunk.columns]
                if missing:
                    raise DataError(f"database {source}: missing column(s) {', '.join(missing)}")
                if chunk.empty:  # pandas yields one empty chunk when nothing is new
                    continue
                clean, bad = clean_rows(text_cells(chunk))
                parts.append(clean)
                reasons.update(bad)
                entry["rows_read"] += len(chunk)
                entry["watermark_to"] = plain(chunk[column].iloc[-1])
    except (sqlalchemy.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        raise DataError(f"database {source}: {first_line(exc)}") from None
    finally:
        engine.dispose()
    if not entry["rows_read"]:
        return None
    data = pd.concat(parts, ignore_index=True)
    entry.update(
        rows_kept=len(data), rows_rejected=entry["rows_read"] - len(data), reasons=dict(reasons)
    )
    if data.empty:
        entry.update(status="rejected", error=f"every row invalid ({describe(reasons)})")
        return FileResult(entry)
    return FileResult(entry, data)


def plain(value: Any) -> Any:
    """A watermark value as plain JSON: int, float or ISO text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def save_ingestion(output_folder: Path, result: IngestionResult) -> None:
    """Write finaldata.csv first, then the record and ingestedfiles.txt, each atomically.

    A crash between the two leaves the new files unrecorded; the next run reads them
    again and de-duplication drops the repeated rows, so nothing is lost or doubled.
    """
    if not result.sources:
        return
    if result.finaldata is not None:
        data = result.finaldata.to_csv(index=False, lineterminator="\n")
        write_atomic(output_folder / FINALDATA, data)
        result.metrics["finaldata_sha256"] = sha256_file(output_folder / FINALDATA)
    record = load_ingestion_record(output_folder)
    record["files"].extend(f.entry for f in result.files)
    if result.database:
        db = result.database.entry
        record["database"] = {
            "source": database_key(result.database_settings),
            "watermark": db["watermark_to"],  # rejected rows are past too: never reread
            "batches": [*(record.get("database") or {}).get("batches", []), db],
        }
    record["runs"].append(result.metrics)
    write_json(output_folder / INGESTION_RECORD, record)
    names = [e["name"] for e in record["files"] if e["status"] == "ingested"]
    write_atomic(output_folder / INGESTED_FILES, "".join(f"{n}\n" for n in names))


def log_result(result: IngestionResult) -> None:
    """One log line per file, then a summary with the numbers."""
    if result.skipped:
        log.info("skipped %d file(s) already ingested or rejected before", len(result.skipped))
    for f in result.files:
        e = f.entry
        if e["status"] == "rejected":
            log.warning("%s: rejected: %s", e["path"], e["error"])
            continue
        log.info(
            "%s: %d rows read, %d kept, %d new",
            e["name"],
            e["rows_read"],
            e["rows_kept"],
            e["rows_new"],
        )
        if e["rows_rejected"]:
            log.warning(
                "%s: dropped %d bad row(s) (%s)",
                e["path"],
                e["rows_rejected"],
                describe(Counter(e["reasons"])),
            )
    if result.database_error:
        log.warning("%s (files are ingested without it)", result.database_error)
    db = result.database.entry if result.database else None
    if db and db["status"] == "ingested":
        log.info(
            "%s: %d rows read (watermark %s -> %s), %d kept, %d new",
            db["name"],
            db["rows_read"],
            db["watermark_from"],
            db["watermark_to"],
            db["rows_kept"],
            db["rows_new"],
        )
    if db and db["rows_rejected"]:
        log.warning(
            "%s: %s %d bad row(s) (%s)",
            db["name"],
            "rejected" if db["status"] == "rejected" else "dropped",
            db["rows_rejected"],
            describe(Counter(db["reasons"])),
        )
    m = result.metrics
    log.info(
        "ingested %d source(s), rejected %d, %d new rows, %s rows in total, %.3f s",
        len(m["files_ingested"]),
        len(m["files_rejected"]),
        m["rows_new"],
        m["rows_total"] if m["rows_total"] is not None else "unchanged",
        m["seconds"],
    )


def ingest_configured(config: dict[str, Any]) -> IngestionResult:
    """ingest() with the folders, settings and database of a loaded config."""
    return ingest(
        config["input_folder_path"],
        config["output_folder_path"],
        config["ingestion"]["max_bad_row_share"],
        config["input_database"],
    )


def run_ingestion(config: dict[str, Any]) -> IngestionResult:
    """Ingest and save with the settings of a loaded config."""
    result = ingest_configured(config)
    save_ingestion(config["output_folder_path"], result)
    log_result(result)
    return result


def main() -> int:
    """Ingest the configured folder (and database); exit 1 when all new data was rejected."""
    args = cli_parser(__doc__.splitlines()[0]).parse_args()
    config = load_config(args.config)
    result = run_ingestion(config)
    if not result.sources:
        log.info(
            "no new data in %s%s; nothing to do",
            config["input_folder_path"],
            " or the database" if config["input_database"]["url"] else "",
        )
        return 0
    if not result.ingested:
        log.error("all new data was rejected; %s unchanged", FINALDATA)
        return 1
    log.info("wrote %s", config["output_folder_path"] / FINALDATA)
    return 0


if __name__ == "__main__":
    run_cli(main, "ingestion")
