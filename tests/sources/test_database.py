"""The database source: URL handling, watermarked incremental reads, bad rows, outages, cycle."""

from __future__ import annotations

import glob
import json
import logging
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy

from risk_assessment.core.common import FINALDATA, INGESTION_RECORD
from risk_assessment.core.settings import resolve_database_url
from risk_assessment.pipeline import run as fullprocess
from risk_assessment.samples.course import DB_TABLE, load_sqlite
from risk_assessment.sources import ingestion
from risk_assessment.sources.scan import (
    database_has_new_rows,
    database_key,
    redact_url,
    watermark_key,
)
from risk_assessment.store import records as store
from tests.conftest import HEADER, ROOT, configure, free_port, run_script, small_rows, write_csv

PASSWORD = "s3cr3t-pw"  # distinctive, so a leak into any log or file is easy to find


def with_database(folder: Path, **database) -> dict:
    """folder's config reading table client_activity of folder/clients.db (plus settings)."""
    return configure(folder, input_database={"url": "sqlite:///clients.db", **database})


def load_rows(db: Path, rows: list[tuple]) -> int:
    """Append rows to the client_activity table of db through generate_data.load_sqlite."""
    return load_sqlite(db, "\n".join([HEADER, *(",".join(map(str, r)) for r in rows)]) + "\n")


def insert_raw(db: Path, rows: list[tuple]) -> None:
    """Append rows as given (None is NULL, text stays text) to db's client_activity table."""
    load_rows(db, [])  # the table, created as generate_data creates it
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            f"INSERT INTO {DB_TABLE} (corporation, lastmonth_activity, lastyear_activity, "
            "number_of_employees, exited) VALUES (?, ?, ?, ?, ?)",
            rows,
        )


def create_table(db: Path, columns: str, rows: list[tuple]) -> None:
    """Create client_activity in db with the given column definitions and rows."""
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(f"CREATE TABLE {DB_TABLE} ({columns})")
        conn.executemany(f"INSERT INTO {DB_TABLE} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def final_rows(config: dict) -> pd.DataFrame:
    """finaldata.csv as text cells."""
    return pd.read_csv(config["output_folder_path"] / FINALDATA, dtype=str, keep_default_na=False)


def db_section(config: dict) -> dict | None:
    """The "database" section of the saved ingestion record (None if absent)."""
    return store.load_record(config["output_folder_path"]).get("database")


def ids(rows: list[tuple]) -> set[str]:
    """The corporation ids of rows."""
    return {r[0] for r in rows}


def warnings_of(caplog) -> list[str]:
    """The WARNING (and worse) messages captured."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
def source(workspace: Path) -> dict:
    """The workspace reading clients.db beside its config, which holds 30 rows (ids 1-30)."""
    load_rows(workspace / "clients.db", small_rows(30, 200))
    return with_database(workspace)


# ---- URL handling --------------------------------------------------------------------------


def test_relative_sqlite_url_is_made_absolute(tmp_path):
    """A relative sqlite path is resolved against the config folder, query string kept."""
    assert resolve_database_url("sqlite:///clients.db", tmp_path) == (
        f"sqlite:///{tmp_path / 'clients.db'}"
    )
    assert resolve_database_url("sqlite:///data/c.db?timeout=5", tmp_path) == (
        f"sqlite:///{tmp_path / 'data' / 'c.db'}?timeout=5"
    )


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////srv/data/clients.db",
        "sqlite:///:memory:",
        "sqlite://",
        "postgresql+psycopg://user:pw@db.example:5432/clients",
        "",
    ],
)
def test_other_urls_are_unchanged(tmp_path, url):
    """Absolute sqlite paths, in-memory SQLite, server URLs and no URL are left as they are."""
    assert resolve_database_url(url, tmp_path) == url


def test_relative_url_works_from_another_folder(workspace, tmp_path_factory):
    """load_config resolves the URL, so ingestion.py run elsewhere reads the config's database."""
    load_rows(workspace / "clients.db", small_rows(5, 200))
    config = with_database(workspace)
    assert config["input_database"]["url"] == f"sqlite:///{workspace / 'clients.db'}"
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    done = run_script("ingestion.py", "--config", str(config["config_file"]), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert ids(small_rows(5, 200)) <= set(final_rows(config)["corporation"])
    assert os.listdir(elsewhere) == []


def test_redact_url_hides_the_password():
    """The password becomes ***; URLs without a password are unchanged."""
    url = f"postgresql+psycopg://ann:{PASSWORD}@db.example:5432/clients"
    assert redact_url(url) == "postgresql+psycopg://ann:***@db.example:5432/clients"
    assert (
        redact_url("postgresql://ann@db.example/clients") == "postgresql://ann@db.example/clients"
    )
    assert redact_url("sqlite:////srv/clients.db") == "sqlite:////srv/clients.db"


def test_database_key_has_no_password():
    """The key stored in the ingestion record names the source without its password."""
    settings = {
        "url": f"postgresql+psycopg://ann:{PASSWORD}@db.example/clients",
        "table": DB_TABLE,
        "query": "",
        "watermark_column": "id",
    }
    key = database_key(settings)
    assert PASSWORD not in json.dumps(key)
    assert key["url"] == "postgresql+psycopg://ann:***@db.example/clients"


# ---- ingestion from SQLite -----------------------------------------------------------------


def test_first_ingestion_reads_every_row(source):
    """All table rows join the files' rows; the record holds the source, watermark and batch."""
    result = ingestion.run_ingestion(source)
    data = final_rows(source)
    assert len(data) == 70
    assert set(data["corporation"]) == ids(small_rows(40)) | ids(small_rows(30, 200))
    assert "database:client_activity" in result.metrics["files_ingested"]
    db = db_section(source)
    assert db["source"] == database_key(source["input_database"])
    assert db["watermark"] == 30
    (batch,) = db["batches"]
    assert batch["name"] == "database:client_activity"
    counts = [batch[k] for k in ("rows_read", "rows_kept", "rows_rejected", "rows_new")]
    assert counts == [30, 30, 0, 30]
    assert (batch["watermark_from"], batch["watermark_to"]) == (None, 30)


def test_incremental_ingestion_reads_only_new_rows(source):
    """Rows appended later are the only ones read next time; finaldata grows by exactly them."""
    ingestion.run_ingestion(source)
    before = final_rows(source)
    load_rows(source["config_file"].parent / "clients.db", small_rows(10, 230))
    result = ingestion.run_ingestion(source)
    entry = result.database.entry
    assert (entry["rows_read"], entry["rows_new"]) == (10, 10)
    assert (entry["watermark_from"], entry["watermark_to"]) == (30, 40)
    after = final_rows(source)
    assert len(after) == len(before) + 10
    assert set(after["corporation"]) - set(before["corporation"]) == ids(small_rows(10, 230))
    assert db_section(source)["watermark"] == 40
    assert len(db_section(source)["batches"]) == 2


def test_no_new_rows_is_idempotent(source):
    """Without new rows nothing is read and nothing rewritten; the CLI says so and exits 0."""
    ingestion.run_ingestion(source)
    output = source["output_folder_path"]
    before = [(output / n).read_bytes() for n in (FINALDATA, INGESTION_RECORD)]
    result = ingestion.run_ingestion(source)
    assert result.database is None and result.sources == []
    assert [(output / n).read_bytes() for n in (FINALDATA, INGESTION_RECORD)] == before
    done = run_script("ingestion.py", "--config", str(source["config_file"]))
    assert done.returncode == 0, done.stderr
    assert "no new data" in done.stderr and "or the database" in done.stderr
    assert [(output / n).read_bytes() for n in (FINALDATA, INGESTION_RECORD)] == before


def test_bad_rows_are_dropped_counted_and_not_reread(workspace, caplog):
    """Bad rows are dropped with reasons; the watermark moves past them, so none is reread."""
    db = workspace / "clients.db"
    load_rows(db, small_rows(10, 200))
    bad = [
        ("b001", "lots", 100, 10, 0),
        ("b002", -3, 100, 10, 0),
        ("b003", 10, 100, 10, 2),
        ("b004", 10, 100, None, 0),
    ]
    insert_raw(db, bad)
    config = with_database(workspace)
    with caplog.at_level(logging.INFO, logger="ingestion"):
        result = ingestion.run_ingestion(config)
    entry = result.database.entry
    assert entry["status"] == "ingested"
    assert (entry["rows_read"], entry["rows_kept"], entry["rows_rejected"]) == (14, 10, 4)
    assert entry["reasons"] == {
        "non-numeric lastmonth_activity": 1,
        "negative lastmonth_activity": 1,
        "exited not 0 or 1": 1,
        "missing number_of_employees": 1,
    }
    assert db_section(config)["batches"][-1]["reasons"] == entry["reasons"]
    data = final_rows(config)
    assert len(data) == 50 and not data["corporation"].str.startswith("b").any()
    assert any("dropped 4 bad row" in m for m in warnings_of(caplog))
    assert db_section(config)["watermark"] == 14
    settings = config["input_database"]
    mark, boundary = store.read_watermark(config["output_folder_path"], watermark_key(settings))
    assert mark == 14 and not database_has_new_rows(settings, mark, len(boundary))


def test_new_file_is_ingested_while_the_database_has_nothing_new(source):
    """A new input file is ingested when the database holds no new row."""
    ingestion.run_ingestion(source)
    write_csv(source["input_folder_path"] / "dataset3.csv", small_rows(5, 300))
    result = ingestion.run_ingestion(source)
    assert result.database is None and result.metrics["files_ingested"] == ["dataset3.csv"]
    assert len(final_rows(source)) == 75


@pytest.mark.parametrize(
    ("columns", "missing"),
    [
        pytest.param(
            "id INTEGER PRIMARY KEY, corporation TEXT, lastmonth_activity INTEGER, "
            "lastyear_activity INTEGER, exited INTEGER",
            "number_of_employees",
            id="feature",
        ),
        pytest.param(
            "corporation TEXT, lastmonth_activity INTEGER, lastyear_activity INTEGER, "
            "number_of_employees INTEGER, exited INTEGER",
            "id",
            id="watermark",
        ),
    ],
)
def test_table_missing_a_column_is_one_warning(workspace, caplog, columns, missing):
    """A table without a needed column: one warning naming it; files go in, watermark stays."""
    # five valid values per row: with an id and no employees, or employees and no id
    rows = [
        (i, f"m{i}", 5, 100, 0) if missing != "id" else (f"m{i}", 5, 100, 10, 0)
        for i in range(1, 6)
    ]
    create_table(workspace / "clients.db", columns, rows)
    config = with_database(workspace)
    with caplog.at_level(logging.INFO, logger="ingestion"):
        result = ingestion.run_ingestion(config)
    problems = [m for m in warnings_of(caplog) if "database" in m]
    assert len(problems) == 1 and missing in problems[0]
    assert result.database is None and missing in result.database_error
    assert len(final_rows(config)) == 40
    settings = config["input_database"]
    assert store.read_watermark(config["output_folder_path"], watermark_key(settings))[0] is None
    record = store.load_record(config["output_folder_path"])
    assert [e["name"] for e in record["files"]] == ["dataset1.csv", "dataset2.csv"]


# ---- an unreachable database ---------------------------------------------------------------


def missing_sqlite(folder: Path) -> str:
    """A sqlite URL to a file that does not exist."""
    return "sqlite:///absent.db"


def closed_postgres(folder: Path) -> str:
    """A PostgreSQL URL with a password, to a port nobody listens on."""
    return f"postgresql+psycopg://ann:{PASSWORD}@127.0.0.1:{free_port()}/clients"


UNREACHABLE = [
    pytest.param(
        missing_sqlite,
        id="missing-sqlite-file",
    ),
    pytest.param(closed_postgres, id="closed-postgres-port"),
]


@pytest.mark.parametrize("make_url", UNREACHABLE)
def test_unreachable_database_is_one_line_and_files_go_in(workspace, caplog, make_url):
    """One warning naming the database (password hidden); files ingested; CLI exits 0."""
    config = with_database(workspace, url=make_url(workspace))
    shown = redact_url(config["input_database"]["url"])
    with caplog.at_level(logging.INFO, logger="ingestion"):
        result = ingestion.run_ingestion(config)
    assert not (workspace / "absent.db").exists()
    problems = [m for m in warnings_of(caplog) if "database" in m]
    assert len(problems) == 1 and shown in problems[0]
    assert PASSWORD not in caplog.text
    assert result.database is None and len(final_rows(config)) == 40
    saved = (config["output_folder_path"] / INGESTION_RECORD).read_text(encoding="utf-8")
    assert PASSWORD not in saved and "database" not in json.loads(saved)
    shutil.rmtree(config["output_folder_path"])
    done = run_script("ingestion.py", "--config", str(config["config_file"]))
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if " WARNING " in ln and shown in ln]
    assert len(lines) == 1 and PASSWORD not in done.stderr
    assert "Traceback" not in done.stderr and len(final_rows(config)) == 40
    assert not (workspace / "absent.db").exists()


def test_read_database_does_not_create_a_missing_sqlite_file(tmp_path):
    """Reading a sqlite URL to a missing file fails without creating the file."""
    path = tmp_path / "absent.db"
    settings = {
        "url": f"sqlite:///{path}",
        "table": DB_TABLE,
        "query": "",
        "watermark_column": "id",
        "chunk_rows": 100,
    }
    with pytest.raises(Exception):  # noqa: B017 (any error: the file is what matters here)
        ingestion.read_database(settings, None)
    assert not path.exists()


@pytest.mark.parametrize("make_url", [missing_sqlite, closed_postgres])
def test_new_data_lists_files_and_warns_when_database_unreachable(workspace, caplog, make_url):
    """fullprocess.new_inputs still lists the new files and warns once about the database."""
    config = with_database(workspace, url=make_url(workspace))
    with caplog.at_level(logging.INFO, logger="fullprocess"):
        names = fullprocess.new_inputs(config)
    assert names == ["dataset1.csv", "dataset2.csv"]
    (problem,) = warnings_of(caplog)
    assert redact_url(config["input_database"]["url"]) in problem
    assert PASSWORD not in caplog.text
    assert not (workspace / "absent.db").exists()


# ---- robustness and settings ---------------------------------------------------------------


def test_crash_between_finaldata_and_record_loses_and_doubles_nothing(source):
    """finaldata.csv written but nothing committed (a crash): the next run doubles and loses
    nothing, because finaldata.csv is rebuilt from the store."""
    result = ingestion.ingest_configured(source)
    output = source["output_folder_path"]
    output.mkdir(parents=True, exist_ok=True)
    (output / FINALDATA).write_text(  # save_ingestion's first step, then the "crash"
        result.new_rows.to_csv(index=False, lineterminator="\n"), encoding="utf-8"
    )
    assert not (output / INGESTION_RECORD).exists()
    ingestion.run_ingestion(source)
    data = final_rows(source)
    assert len(data) == len(result.new_rows) == 70
    assert not data.duplicated().any()
    assert ids(small_rows(30, 200)) <= set(data["corporation"])
    assert db_section(source)["watermark"] == 30


def test_rows_are_read_in_chunks(workspace):
    """With chunk_rows 7, all 50 rows are ingested and the watermark is the largest id."""
    load_rows(workspace / "clients.db", small_rows(50, 200))
    config = with_database(workspace, chunk_rows=7)
    result = ingestion.run_ingestion(config)
    assert (result.database.entry["rows_read"], result.database.entry["rows_new"]) == (50, 50)
    assert ids(small_rows(50, 200)) <= set(final_rows(config)["corporation"])
    assert db_section(config)["watermark"] == 50


def test_custom_query_with_watermark(workspace):
    """A configured SELECT is read instead of the table, incrementally above the watermark."""
    db = workspace / "clients.db"
    load_rows(db, small_rows(30, 200))
    query = "SELECT * FROM client_activity WHERE number_of_employees > 10"
    config = with_database(workspace, query=query)
    first = ingestion.run_ingestion(config).database.entry
    wanted = {r[0] for r in small_rows(30, 200) if r[3] > 10}
    assert first["rows_read"] == len(wanted) == 24 and first["watermark_to"] == 30
    assert set(final_rows(config)["corporation"]) - ids(small_rows(40)) == wanted
    load_rows(db, small_rows(10, 230))  # ids 31-40; 31 and 36 have 10 employees
    second = ingestion.run_ingestion(config).database.entry
    assert (second["rows_read"], second["watermark_from"], second["watermark_to"]) == (8, 30, 40)
    assert db_section(config)["source"]["query"] == query


def test_a_column_the_schema_does_not_know_is_named_once(workspace, caplog):
    """A table with a column the schema does not know (region), read in three chunks: the
    database entry of the record names it, and one log line says so; the watermark column
    (id) is used, not ignored."""
    db = workspace / "clients.db"
    columns = (
        "id INTEGER PRIMARY KEY, corporation TEXT, region TEXT, lastmonth_activity INTEGER, "
        "lastyear_activity INTEGER, number_of_employees INTEGER, exited INTEGER"
    )
    rows = [(i + 1, r[0], "north", *r[1:]) for i, r in enumerate(small_rows(25, 200))]
    create_table(db, columns, rows)
    config = with_database(workspace, chunk_rows=10)
    with caplog.at_level(logging.INFO, logger="ingestion"):
        result = ingestion.run_ingestion(config)
    assert result.database.entry["ignored_columns"] == ["region"]
    assert db_section(config)["batches"][-1]["ignored_columns"] == ["region"]
    said = [r.getMessage() for r in caplog.records if "ignored columns" in r.getMessage()]
    assert said == ["database:client_activity: ignored columns: region"]
    assert ids(small_rows(25, 200)) <= set(final_rows(config)["corporation"])


def test_timestamp_watermark(workspace):
    """ISO text timestamps as the watermark column: later rows are read incrementally."""
    db = workspace / "clients.db"
    columns = (
        "updated_at TEXT, corporation TEXT, lastmonth_activity INTEGER, "
        "lastyear_activity INTEGER, number_of_employees INTEGER, exited INTEGER"
    )
    rows = [(f"2026-01-0{1 + i // 5}T10:00:{i:02d}", *r) for i, r in enumerate(small_rows(10, 200))]
    create_table(db, columns, rows)
    config = with_database(workspace, watermark_column="updated_at")
    first = ingestion.run_ingestion(config).database.entry
    assert (first["rows_read"], first["watermark_to"]) == (10, "2026-01-02T10:00:09")
    settings = config["input_database"]
    mark, boundary = store.read_watermark(config["output_folder_path"], watermark_key(settings))
    assert not database_has_new_rows(settings, mark, len(boundary))
    later = [(f"2026-01-03T08:00:0{i}", *r) for i, r in enumerate(small_rows(5, 230))]
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(f"INSERT INTO {DB_TABLE} VALUES (?, ?, ?, ?, ?, ?)", later)
    assert database_has_new_rows(settings, mark, len(boundary))
    second = ingestion.run_ingestion(config).database.entry
    assert second["rows_read"] == 5 and second["watermark_from"] == "2026-01-02T10:00:09"
    assert second["watermark_to"] == "2026-01-03T08:00:04"
    assert len(final_rows(config)) == 55


def test_database_has_new_rows(source):
    """True before the first read, False right after it, True once rows are appended."""
    settings = source["input_database"]

    def watermark():
        mark, boundary = store.read_watermark(source["output_folder_path"], watermark_key(settings))
        return mark, len(boundary)

    assert database_has_new_rows(settings, *watermark()) is True
    ingestion.run_ingestion(source)
    assert database_has_new_rows(settings, *watermark()) is False
    load_rows(source["config_file"].parent / "clients.db", small_rows(1, 230))
    assert database_has_new_rows(settings, *watermark()) is True


def test_database_has_new_rows_stays_light(source):
    """For SQLite, the cron tick's check imports neither pandas nor SQLAlchemy."""
    url = source["input_database"]["url"]
    code = (
        "import sys\nfrom risk_assessment.sources import scan as sources\n"
        "from risk_assessment.core.settings import DEFAULTS\n"
        f"settings = dict(DEFAULTS['input_database'], url={url!r})\n"
        "print(sources.database_has_new_rows(settings, None))\n"
        "print(sorted(m for m in ('pandas', 'sqlalchemy', 'sklearn') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["True", "[]"]


# ---- the whole cycle on the shipped data, in database mode ---------------------------------


def test_fullprocess_cycle_reads_the_database(shipped):
    """Practice files deploy v0001; the source rows in SQLite drift and deploy v0002; then a
    no-op; then 300 appended rows are judged and the decision is recorded."""
    config = configure(shipped)
    assert fullprocess.run_once(config).new_version == "v0001"
    done = run_script("generate_data.py", "--sqlite", "clients.db", cwd=shipped)
    assert done.returncode == 0, done.stderr
    config = with_database(shipped)
    second = fullprocess.run_once(config)
    assert second.new_files == ["database:client_activity"] and second.new_rows > 0
    assert second.model_drift is True
    assert second.decision == "deployed" and second.new_version == "v0002"
    third = fullprocess.run_once(config)
    assert (third.decision, third.reason, third.new_files) == ("none", "no new data", [])
    done = run_script("generate_data.py", "--sqlite", "clients.db", "--rows", "300", cwd=shipped)
    assert done.returncode == 0, done.stderr
    fourth = fullprocess.run_once(config)
    assert fourth.new_files == ["database:client_activity"] and fourth.new_rows == 300
    assert fourth.model_drift is not None
    rows = store.read_history(config["output_folder_path"])
    assert len(rows) == 4 and rows[0]["decision"] == fourth.decision != "error"
    assert db_section(config)["watermark"] == 4300


# ---- PostgreSQL, for real ------------------------------------------------------------------


def as_postgres(*command: str) -> subprocess.CompletedProcess:
    """Run a command as the postgres user (the server refuses to run as root)."""
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def postgres():
    """The URL of a database `clients` on a throwaway PostgreSQL server; skip if none can run."""
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")
    if not shutil.which("runuser"):
        pytest.skip("runuser is missing: cannot start PostgreSQL as the postgres user")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run the PostgreSQL server as")
    bin_dir = Path(initdb[-1]).parent
    # not tmp_path_factory: pytest's temp root is private to root, the server's user
    # could not reach a folder inside it
    folder = Path(tempfile.mkdtemp(prefix="pytest-pg-"))
    os.chown(folder, user.pw_uid, user.pw_gid)
    port = free_port()
    data = str(folder / "data")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    steps = [
        [str(bin_dir / "initdb"), "-D", data, "-A", "trust", "-U", "postgres"],
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            data,
            "-l",
            str(folder / "log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        [
            str(bin_dir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "clients",
        ],
    ]
    try:
        for step in steps:
            done = as_postgres(*step)
            if done.returncode:
                why = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                pytest.skip(f"cannot start PostgreSQL: {Path(step[0]).name} failed: {why[0]}")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/clients"
    finally:
        if (folder / "data" / "postmaster.pid").exists():
            as_postgres(str(bin_dir / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def pg_insert(url: str, rows: list[tuple], create: bool = False) -> None:
    """Insert rows into client_activity on PostgreSQL (recreating the table if create)."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            if create:
                conn.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {DB_TABLE}"))
                conn.execute(
                    sqlalchemy.text(
                        f"CREATE TABLE {DB_TABLE} (id INTEGER GENERATED ALWAYS AS IDENTITY "
                        "PRIMARY KEY, corporation TEXT, lastmonth_activity INTEGER, "
                        "lastyear_activity INTEGER, number_of_employees INTEGER, exited INTEGER)"
                    )
                )
            if rows:
                conn.execute(
                    sqlalchemy.text(
                        f"INSERT INTO {DB_TABLE} (corporation, lastmonth_activity, "
                        "lastyear_activity, number_of_employees, exited) "
                        "VALUES (:c, :m, :y, :e, :x)"
                    ),
                    [dict(zip("cmyex", r, strict=True)) for r in rows],
                )
    finally:
        engine.dispose()


@pytest.fixture
def pg_source(postgres, workspace) -> dict:
    """The workspace reading a fresh client_activity table of 30 rows on PostgreSQL."""
    pg_insert(postgres, small_rows(30, 200), create=True)
    return configure(workspace, input_database={"url": postgres})


def test_postgres_first_and_incremental_ingestion(pg_source):
    """From PostgreSQL: every row first, then only the appended ones, then nothing."""
    first = ingestion.run_ingestion(pg_source).database.entry
    assert (first["rows_read"], first["watermark_from"], first["watermark_to"]) == (30, None, 30)
    assert len(final_rows(pg_source)) == 70
    assert db_section(pg_source)["source"] == database_key(pg_source["input_database"])
    pg_insert(pg_source["input_database"]["url"], small_rows(10, 230))
    second = ingestion.run_ingestion(pg_source).database.entry
    assert (second["rows_read"], second["watermark_from"], second["watermark_to"]) == (10, 30, 40)
    data = final_rows(pg_source)
    assert len(data) == 80 and ids(small_rows(10, 230)) <= set(data["corporation"])
    assert db_section(pg_source)["watermark"] == 40


def test_postgres_has_new_rows(pg_source):
    """database_has_new_rows through SQLAlchemy: True, False after reading, True after insert."""
    settings = pg_source["input_database"]

    def watermark():
        mark, boundary = store.read_watermark(
            pg_source["output_folder_path"], watermark_key(settings)
        )
        return mark, len(boundary)

    assert database_has_new_rows(settings, *watermark()) is True
    ingestion.run_ingestion(pg_source)
    assert database_has_new_rows(settings, *watermark()) is False
    pg_insert(settings["url"], small_rows(1, 230))
    assert database_has_new_rows(settings, *watermark()) is True
