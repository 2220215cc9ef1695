"""The new-data sources: the input folder's CSV files and the input database.

A part of ingestion.py, also used by fullprocess.py for its "new data?" check, so it
stays light: standard library and common.py only at import time (SQLAlchemy is imported
only to ask a non-SQLite database).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from risk_assessment.core.common import DataError, first_line, sha256_file, sqlite_file

# ---- the input database ---------------------------------------------------------------


def database_key(settings: dict[str, Any]) -> dict[str, str]:
    """What identifies a database source in the ingestion record (no password)."""
    return {
        "url": redact_url(settings["url"]),
        "table": settings["table"],
        "query": settings["query"],
        "watermark_column": settings["watermark_column"],
    }


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def watermark_key(settings: dict[str, Any]) -> str:
    """The store's key of a database source: its identity as sorted JSON."""
    return json.dumps(database_key(settings), sort_keys=True)


def quote_name(name: str) -> str:
    """An SQL identifier in double quotes (ANSI; SQLite and PostgreSQL accept it)."""
    return '"' + name.replace('"', '""') + '"'


def select_sql(settings: dict[str, Any], mode: str, quote=None) -> str:
    """SQL over the source table or query, the watermark bound as :wm.

    mode: "all" every row; "from" rows at or above the watermark (rows at it that were
    read before are dropped by the caller: ties are never skipped); "above" whether a row
    above it exists; "at" how many rows sit exactly at it. quote: the dialect's quoting.
    """
    quote = quote or quote_name
    source = f"({settings['query']}) AS q" if settings["query"] else quote(settings["table"])
    column = quote(settings["watermark_column"])
    if mode == "above":
        return f"SELECT 1 FROM {source} WHERE {column} > :wm LIMIT 1"
    if mode == "at":
        return f"SELECT COUNT(*) FROM {source} WHERE {column} = :wm"
    where = f" WHERE {column} >= :wm" if mode == "from" else ""
    return f"SELECT * FROM {source}{where} ORDER BY {column}"


def database_has_new_rows(settings: dict[str, Any], watermark: Any, read_at: int = 0) -> bool:
    """True if the source holds rows above the watermark, or more rows at it than the
    read_at already read; DataError if unreachable.

    SQLite is asked through the standard library (the cron tick stays light); other
    databases through SQLAlchemy, imported only then.
    """
    url = settings["url"]
    try:
        if sqlite_file(url) is not None:
            return sqlite_has_new_rows(settings, watermark, read_at)
        return sqlalchemy_has_new_rows(settings, watermark, read_at)
    except DataError:
        raise
    except Exception as exc:  # any driver's error: unreachable, no such table, bad SQL
        raise DataError(f"database {redact_url(url)}: {first_line(exc)}") from None


def sqlite_has_new_rows(settings: dict[str, Any], watermark: Any, read_at: int) -> bool:
    """database_has_new_rows for a SQLite file, opened read-only."""
    path = sqlite_file(settings["url"])
    if not Path(path).exists():
        raise DataError(f"database {redact_url(settings['url'])}: file not found")
    params = {"wm": watermark}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        if watermark is None:
            return db.execute(select_sql(settings, "all") + " LIMIT 1").fetchone() is not None
        if db.execute(select_sql(settings, "above"), params).fetchone() is not None:
            return True
        return db.execute(select_sql(settings, "at"), params).fetchone()[0] > read_at


def sqlalchemy_has_new_rows(settings: dict[str, Any], watermark: Any, read_at: int) -> bool:
    """database_has_new_rows for any other database, through SQLAlchemy."""
    import sqlalchemy  # only for non-SQLite sources

    params = {"wm": watermark}
    engine = sqlalchemy.create_engine(settings["url"])
    try:
        quote = engine.dialect.identifier_preparer.quote
        with engine.connect() as conn:
            if watermark is None:
                sql = select_sql(settings, "all", quote) + " LIMIT 1"
                return conn.execute(sqlalchemy.text(sql)).first() is not None
            sql = sqlalchemy.text(select_sql(settings, "above", quote))
            if conn.execute(sql, params).first() is not None:
                return True
            sql = sqlalchemy.text(select_sql(settings, "at", quote))
            return conn.execute(sql, params).scalar() > read_at
    finally:
        engine.dispose()


# ---- the input folder -----------------------------------------------------------------


@dataclass
class Scan:
    """What a look at the input folder found."""

    new: list[tuple[Path, str]] = field(default_factory=list)  # (path, sha256), in order
    skipped: list[Path] = field(default_factory=list)  # content handled before
    settling: list[Path] = field(default_factory=list)  # modified too recently: next tick
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (path, why)


def file_stamp(path: Path) -> dict[str, int]:
    """Size and modification time of a file: recorded so unchanged files skip hashing."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def find_csv_files(folder: str | os.PathLike) -> list[Path]:
    """Every CSV file directly in folder (suffix in any case: .csv, .CSV), in order of
    arrival: modification time, then name. DataError if there is no such folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: input folder not found")
    found = []
    for path in folder.iterdir():
        try:
            if path.suffix.lower() == ".csv" and path.is_file():
                found.append((path.stat().st_mtime_ns, path.name, path))
        except OSError:
            continue  # vanished or unreadable metadata: not there for this tick
    return [path for _, _, path in sorted(found)]


def why_unreadable(exc: OSError) -> str:
    """The short reason an input file could not be read."""
    return exc.strerror or type(exc).__name__


def scan_input(
    input_folder: str | os.PathLike,
    known_sha: set[str],
    known_stamps: set[tuple],
    settle_seconds: float = 0.0,
) -> Scan:
    """Sort the input folder's files into new, skipped, settling and unreadable.

    A file is known by its content: one whose sha256 was handled before (ingested or
    rejected, under any name) is skipped, and so is a second copy within the folder.
    A file at a handled path with the handled size and modification time is not hashed
    again, so the cron tick reads no file that has not changed.

    A file modified less than settle_seconds ago may still be being written: see settled().
    """
    scan, seen = Scan(), set(known_sha)
    fresh = []
    for path in find_csv_files(input_folder):
        try:
            stamp = file_stamp(path)
        except OSError as exc:
            scan.unreadable.append((path, why_unreadable(exc)))
            continue
        if (str(path), stamp["size"], stamp["mtime_ns"]) in known_stamps:
            scan.skipped.append(path)
        else:
            fresh.append((path, stamp))
    for path in settled(fresh, settle_seconds, scan):
        try:
            digest = sha256_file(path)
        except OSError as exc:
            scan.unreadable.append((path, why_unreadable(exc)))
            continue
        if digest in seen:
            scan.skipped.append(path)
            continue
        seen.add(digest)
        scan.new.append((path, digest))
    return scan


def settled(fresh: list[tuple[Path, dict]], settle_seconds: float, scan: Scan) -> list[Path]:
    """The fresh files, in order, that were not modified within settle_seconds.

    Waits once (at most settle_seconds) for the youngest to come of age and looks again;
    a file that changed meanwhile goes to scan.settling, left for the next tick."""
    now = time.time_ns()
    young = [
        now - stamp["mtime_ns"]
        for _, stamp in fresh
        if now - stamp["mtime_ns"] < settle_seconds * 1e9
    ]
    if young:
        time.sleep(max(0.0, settle_seconds - min(young) / 1e9))
    out = []
    for path, stamp in fresh:
        try:
            again = file_stamp(path)
        except OSError as exc:
            scan.unreadable.append((path, why_unreadable(exc)))
            continue
        if again != stamp or time.time_ns() - again["mtime_ns"] < settle_seconds * 1e9:
            scan.settling.append(path)
        else:
            out.append(path)
    return out
