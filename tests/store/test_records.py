"""store.py, the system of record: atomic commits, exports, schema migration, history."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from risk_assessment.core.common import FINALDATA, INGESTED_FILES, INGESTION_RECORD, DataError
from risk_assessment.store import records as store
from risk_assessment.store.records import Run
from risk_assessment.store.tables import schema_version
from tests.conftest import small_rows


def entry(name: str, **extra) -> dict:
    """A minimal record entry for a file source."""
    return {
        "name": name,
        "path": f"/in/{name}",
        "sha256": name * 4,
        "size": 1,
        "mtime_ns": 1,
        "status": "ingested",
        **extra,
    }


def rows(n: int, start: int = 0) -> list[tuple]:
    """n COLUMNS tuples."""
    return [tuple(r) for r in small_rows(n, start)]


def count(folder: Path, table: str) -> int:
    """Rows in a table of folder's store."""
    with closing(sqlite3.connect(store.store_path(folder))) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_a_batch_is_committed_whole_or_not_at_all(tmp_path):
    """A failure while storing a batch's rows leaves neither rows nor sources nor batch."""
    store.commit_batch(tmp_path, [("file", entry("a.csv"), rows(5))], {})

    def failing():
        yield from rows(3, 100)
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        store.commit_batch(
            tmp_path,
            [("file", entry("b.csv"), rows(4, 50)), ("file", entry("c.csv"), failing())],
            {},
        )
    assert count(tmp_path, "observations") == 5
    assert count(tmp_path, "sources") == 1
    assert count(tmp_path, "batches") == 1
    assert count(tmp_path, "ingestions") == 1


def test_repeats_are_observations_but_not_new(tmp_path):
    """An exact repeat is stored as an observation (flagged), counted as not new, and
    left out of the training set."""
    store.commit_batch(tmp_path, [("file", entry("a.csv"), rows(5))], {})
    again = entry("b.csv")
    store.commit_batch(tmp_path, [("file", again, rows(5) + rows(2, 10))], {})
    assert again["rows_new"] == 2
    assert count(tmp_path, "observations") == 12
    assert len(store.training_rows(tmp_path)) == 7


def test_a_batch_of_repeats_only_is_done_at_once(tmp_path):
    """A batch holding nothing new needs no verdict: it is stored at step done."""
    store.commit_batch(tmp_path, [("file", entry("a.csv"), rows(5))], {})
    batch = store.commit_batch(tmp_path, [("file", entry("b.csv"), rows(5))], {})
    assert store.pending_batch(tmp_path)["id"] != batch


def test_unlabelled_rows_are_stored_but_never_trained_on(tmp_path):
    """exited None is an unlabelled observation: in latest_observations, not in training."""
    data = rows(3) + [("cur1", 5, 5, 5, None)]
    store.commit_batch(tmp_path, [("file", entry("a.csv"), data)], {})
    assert "cur1" not in {r[1] for r in store.training_rows(tmp_path)}
    latest = {r[1]: r for r in store.latest_observations(tmp_path)}
    assert latest["cur1"][-1] is None


def test_ids_are_stored_as_text(tmp_path):
    """`0012` stays `0012` through the store and the finaldata.csv export."""
    store.commit_batch(tmp_path, [("file", entry("a.csv"), [("0012", 1, 2, 3, 0), *rows(3)])], {})
    store.refresh_exports(tmp_path)
    assert [r[1] for r in store.client_observations(tmp_path, "0012")] == ["0012"]
    assert "\n0012,1,2,3,0\n" in (tmp_path / FINALDATA).read_text()


@pytest.mark.parametrize("name", [FINALDATA, INGESTED_FILES, INGESTION_RECORD])
def test_an_edited_or_deleted_export_is_rewritten(tmp_path, name):
    """Each export is rewritten from the store when deleted or edited, and left alone
    when current."""
    store.commit_batch(tmp_path, [("file", entry("a.csv"), rows(5))], {})
    assert store.refresh_exports(tmp_path) is True
    original = (tmp_path / name).read_bytes()
    assert store.refresh_exports(tmp_path) is False
    (tmp_path / name).write_text("edited\n")
    assert store.refresh_exports(tmp_path) is True
    assert (tmp_path / name).read_bytes() == original
    (tmp_path / name).unlink()
    assert store.refresh_exports(tmp_path) is True
    assert (tmp_path / name).read_bytes() == original


def test_steps_are_recorded_and_merged(tmp_path):
    """advance_batch keeps what earlier steps stored; unknown steps are refused."""
    batch = store.commit_batch(tmp_path, [("file", entry("a.csv"), rows(5))], {})
    store.advance_batch(tmp_path, batch, "judged", verdict={"retrain": False})
    state = store.advance_batch(tmp_path, batch, "done", note=1)
    assert state["verdict"] == {"retrain": False} and state["note"] == 1
    assert store.pending_batch(tmp_path) is None
    with pytest.raises(ValueError):
        store.advance_batch(tmp_path, batch, "teleported")


def test_idle_ticks_fold_into_one_row(tmp_path):
    """Idle runs extend the last idle row; a real run starts a new row."""
    store.record_run(tmp_path, Run(batch_id=1, decision="no drift", model_drift=False))
    for _ in range(60):
        store.record_run(tmp_path, Run(reason="no new data"))
    store.record_run(tmp_path, Run(batch_id=2, decision="error", error="boom"))
    store.record_run(tmp_path, Run(reason="no new data"))
    history = store.read_history(tmp_path, 50)
    assert [r["ticks"] for r in history] == [1, 1, 60, 1]
    assert store.last_judged_run(tmp_path)["batch_id"] == 1


def test_an_error_run_is_never_folded(tmp_path):
    """Failed runs each keep their row, even when nothing was found."""
    for _ in range(3):
        store.record_run(tmp_path, Run(decision="error", error="config"))
    assert len(store.read_history(tmp_path, 10)) == 3


# ---- schema version and migration ------------------------------------------------------------


def test_a_new_store_carries_the_schema_version(tmp_path):
    """A fresh store records SCHEMA_VERSION."""
    with closing(store.open_store(tmp_path)) as db:
        assert schema_version(db) == store.SCHEMA_VERSION


def test_an_older_store_is_migrated_forward(tmp_path):
    """A version-1 store (runs without the verdict column) is migrated when opened:
    its rows kept, the column added, a run with a verdict recorded."""
    store.commit_batch(tmp_path, [("file", entry("a.csv"), rows(5))], {})
    store.record_run(tmp_path, Run(batch_id=1, decision="no drift", model_drift=False))
    with closing(sqlite3.connect(store.store_path(tmp_path))) as db, db:
        db.execute("ALTER TABLE runs DROP COLUMN verdict")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with closing(store.open_store(tmp_path)) as db:
        assert schema_version(db) == store.SCHEMA_VERSION
        names = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
    assert "verdict" in names
    store.record_run(tmp_path, Run(batch_id=2, decision="no drift", verdict={"k": 1}))
    history = store.read_history(tmp_path, 10)
    assert [r["batch_id"] for r in history] == [2, 1]
    assert history[0]["verdict"] == {"k": 1}
    assert len(store.training_rows(tmp_path)) == 5


def test_a_store_missing_run_columns_gains_them(tmp_path):
    """A store of today's version whose runs table lacks a newer field's column (as any
    new Run field will) gets it on open: no OperationalError."""
    store.record_run(tmp_path, Run(reason="x"))
    with closing(sqlite3.connect(store.store_path(tmp_path))) as db, db:
        db.execute("ALTER TABLE runs DROP COLUMN unlabelled_rows")
    store.record_run(tmp_path, Run(batch_id=3, decision="no drift", unlabelled_rows=7))
    assert store.read_history(tmp_path, 1)[0]["unlabelled_rows"] == 7


def test_a_newer_store_is_refused_with_one_line(tmp_path):
    """A store written by newer code is refused, not damaged."""
    store.open_store(tmp_path).close()
    with closing(sqlite3.connect(store.store_path(tmp_path))) as db, db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(DataError, match="newer") as caught:
        store.open_store(tmp_path)
    assert "\n" not in str(caught.value)


def test_a_corrupt_store_is_a_one_line_error(tmp_path):
    """A store.db that is not SQLite: DataError naming the file, no traceback."""
    store.store_path(tmp_path).write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="store.db"):
        store.open_store(tmp_path)


def test_legacy_files_are_imported_on_first_open(tmp_path):
    """An old ingestion record and finaldata.csv become one done batch and its rows."""
    (tmp_path / FINALDATA).write_text(
        "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
        "0012,1,2,3,0\nabc,4,5,6,1\n"
    )
    record = {"files": [entry("old.csv")], "runs": [{"time": "2020-01-01"}]}
    (tmp_path / INGESTION_RECORD).write_text(json.dumps(record))
    assert store.known_files(tmp_path)[0] == {"old.csv" * 4}
    assert [r[1] for r in store.training_rows(tmp_path)] == ["0012", "abc"]
    assert store.pending_batch(tmp_path) is None


def test_a_poisoned_legacy_training_set_does_not_poison_the_store(tmp_path):
    """The old code could write -9223372036854775808 (issue 10, item 3) into finaldata.csv;
    importing it must not carry the bad row into the store and the new exports."""
    from risk_assessment.schema.dataset import load_dataset

    (tmp_path / FINALDATA).write_text(
        "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
        "good,1,2,3,0\nbad,-9223372036854775808,2,3,1\nalso,4,5,6,1\n"
    )
    record = {"files": [entry("old.csv")], "runs": []}
    (tmp_path / INGESTION_RECORD).write_text(json.dumps(record))
    store.open_store(tmp_path).close()
    assert [r[1] for r in store.training_rows(tmp_path)] == ["good", "also"]
    store.refresh_exports(tmp_path)
    assert len(load_dataset(tmp_path / FINALDATA)) == 2


def test_legacy_database_watermark_is_known_before_the_first_open(tmp_path):
    """An old record's database watermark is honoured by the very first read (store.db
    not created yet): the old rows are not read again."""
    from risk_assessment.sources.scan import watermark_key

    settings = {
        "url": "sqlite:////data/clients.db",
        "table": "client_activity",
        "query": "",
        "watermark_column": "id",
    }
    source = json.loads(watermark_key(settings))
    record = {
        "files": [],
        "runs": [],
        "database": {"source": source, "watermark": 30, "batches": []},
    }
    (tmp_path / INGESTION_RECORD).write_text(json.dumps(record))
    assert store.read_watermark(tmp_path, watermark_key(settings))[0] == 30


STORE_OPENS = """
import sys
from risk_assessment.core.settings import load_config
from risk_assessment.pipeline import run
opened = []
sys.addaudithook(lambda event, args: opened.append(args) if event == "sqlite3.connect" else None)
config = load_config(sys.argv[1])
run.run_pipeline(config)
print(sum(1 for a in opened if str(a[0]).endswith("store.db")))
"""


def test_an_idle_run_opens_the_store_once(tmp_path):
    """The store is a handle: a cron tick with nothing new opens store.db once and passes
    the open store down (Python's sqlite3.connect audit event counts the openings)."""
    import subprocess
    import sys

    from tests.conftest import ROOT, configure, write_csv

    (tmp_path / "practicedata").mkdir()
    write_csv(tmp_path / "testdata" / "testdata.csv", small_rows(15, 100))
    (tmp_path / "config.json").write_text(
        '{"input_folder_path": "practicedata", "output_folder_path": "ingesteddata",'
        ' "test_data_path": "testdata", "output_model_path": "models",'
        ' "prod_deployment_path": "production_deployment"}'
    )
    configure(tmp_path)
    for _ in range(2):  # the first tick creates the store; the second finds it
        done = subprocess.run(
            [sys.executable, "-c", STORE_OPENS, str(tmp_path / "config.json")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "1", done.stdout


def test_functions_take_an_open_store_or_a_folder(tmp_path):
    """A function below gets the same answer from an open Store as from the folder."""
    store.commit_batch(tmp_path, [("file", {"name": "a.csv"}, small_rows(3))], {"rows": 3})
    with store.Store(tmp_path) as db:
        assert store.ready(db) and store.folder_of(db) == tmp_path
        assert store.all_observations(db) == store.all_observations(tmp_path)
        assert store.pending_batch(db) == store.pending_batch(tmp_path)
