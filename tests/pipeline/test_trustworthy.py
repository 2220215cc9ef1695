"""Issue 10, trustworthy data: one test (or more) per numbered finding and per "What to build"
bullet. Real files in tmp_path, the real model, the real scripts run as a user runs them."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from risk_assessment.core.common import (
    FINALDATA,
    INGESTED_FILES,
    INGESTION_RECORD,
    MODEL_META,
    ConfigError,
    RiskError,
)
from risk_assessment.core.locking import WriterLock
from risk_assessment.core.settings import load_config
from risk_assessment.deployment import versions as deployment
from risk_assessment.modelling import scoring, training
from risk_assessment.pipeline import run as fullprocess
from risk_assessment.schema import dataset
from risk_assessment.sources import ingestion
from risk_assessment.store import records as store
from risk_assessment.store.records import Run
from tests.conftest import (
    ROOT,
    configure,
    deploy_workspace,
    hold_writer_lock,
    run_script,
    small_rows,
    write_csv,
)

MAX_LINE = 10_000  # bytes: a log line or a record entry must stay below this


def cli(script: str, config: dict, *args: str):
    """Run a project script on config as a user would."""
    return run_script(script, "--config", str(config["config_file"]), *args)


def observations(config: dict) -> list[dict]:
    """Every stored observation with its source's kind and name, in order of arrival."""
    path = config["output_folder_path"] / store.STORE_FILE
    if not path.exists():
        return []
    with closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT o.*, s.kind, s.name AS source FROM observations o "
            "JOIN sources s ON o.source_id = s.id ORDER BY o.seq"
        )
        # the schema's columns are stored as "v:<name>" (docs/design.md)
        return [{k.removeprefix("v:"): v for k, v in dict(r).items()} for r in rows]


def batches(config: dict) -> list[dict]:
    """The batches table, decoded."""
    with closing(sqlite3.connect(config["output_folder_path"] / store.STORE_FILE)) as db:
        db.row_factory = sqlite3.Row
        return [store.batch_dict(r) for r in db.execute("SELECT * FROM batches ORDER BY id")]


def by_source(config: dict) -> dict[str, int]:
    """Stored observations per source name."""
    counts: dict[str, int] = {}
    for row in observations(config):
        counts[row["source"]] = counts.get(row["source"], 0) + 1
    return counts


def final_frame(config: dict) -> pd.DataFrame:
    """finaldata.csv as text cells."""
    return pd.read_csv(config["output_folder_path"] / FINALDATA, dtype=str, keep_default_na=False)


def age(path: Path, seconds: float = 3600) -> None:
    """Set a file's modification time seconds into the past (a file that has settled)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def errors(stderr: str) -> list[str]:
    """The ERROR lines of a script's stderr."""
    return [ln for ln in stderr.splitlines() if " ERROR " in ln]


@pytest.fixture
def offline(workspace: Path) -> dict:
    """The small workspace, offline, files settled."""
    return configure(workspace)


# ---- 1. one lock for every writer ------------------------------------------------------------


def test_hand_ingestion_while_locked_exits_with_one_line_and_loses_nothing(workspace):
    """ingestion.py while another process holds the writer lock: exit 1, one clear line
    naming the holder; nothing stored; once free, both files are stored."""
    config = configure(workspace, lock={"wait_seconds": 0.5})
    holder = hold_writer_lock(config["output_folder_path"], "cron-job", 60)
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = cli("ingestion.py", config)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and " ERROR " in lines[0], done.stderr
    assert f"cron-job pid {holder.pid}" in lines[0]
    assert observations(config) == []
    again = cli("ingestion.py", config)
    assert again.returncode == 0, again.stderr
    assert by_source(config) == {"dataset1.csv": 20, "dataset2.csv": 20}


@pytest.mark.parametrize("script", ["training.py", "scoring.py", "deployment.py"])
def test_every_writer_takes_the_lock(workspace, script):
    """training, scoring and deployment wait lock.wait_seconds for the lock, then exit 1."""
    config = configure(workspace, lock={"wait_seconds": 0.2})
    lock = WriterLock(config["output_folder_path"], "holder-of-the-lock")
    assert lock.acquire()
    try:
        done = cli(script, config)
    finally:
        lock.release()
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(errors(done.stderr)) == 1 and "holder-of-the-lock" in done.stderr


def test_rollback_takes_the_lock(offline):
    """deployment.py --rollback is a writer too."""
    fullprocess.run_once(offline)
    config = configure(offline["config_file"].parent, lock={"wait_seconds": 0.2})
    lock = WriterLock(config["output_folder_path"], "holder-of-the-lock")
    assert lock.acquire()
    try:
        done = cli("deployment.py", config, "--rollback")
    finally:
        lock.release()
    assert done.returncode == 1 and "holder-of-the-lock" in done.stderr


# ---- 2. exports are rebuilt from the store ---------------------------------------------------


def test_deleted_finaldata_is_rebuilt_from_the_store(offline):
    """finaldata.csv deleted: the next ingestion writes every stored row, not only the new."""
    ingestion.run_ingestion(offline)
    (offline["output_folder_path"] / FINALDATA).unlink()
    write_csv(offline["input_folder_path"] / "dataset3.csv", small_rows(20, 200))
    ingestion.run_ingestion(offline)
    assert len(final_frame(offline)) == 60


def test_deleted_finaldata_is_rebuilt_when_nothing_is_new(offline):
    """finaldata.csv deleted and no new file: ingestion and training still see all rows."""
    ingestion.run_ingestion(offline)
    (offline["output_folder_path"] / FINALDATA).unlink()
    ingestion.run_ingestion(offline)
    assert len(final_frame(offline)) == 40
    (offline["output_folder_path"] / FINALDATA).unlink()
    meta = training.run_training(offline)
    assert len(final_frame(offline)) == 40
    assert json.dumps(meta).count("40") >= 1  # trained on every stored row


def test_hand_edited_finaldata_is_rewritten_not_merged(offline):
    """A hand-edited finaldata.csv (rows cut, a poisoned row added) is rewritten whole."""
    ingestion.run_ingestion(offline)
    path = offline["output_folder_path"] / FINALDATA
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:5], "poison,-1,-9223372036854775808,1,1"]) + "\n")
    training.run_training(offline)
    data = final_frame(offline)
    assert len(data) == 40 and "poison" not in set(data["corporation"])
    write_csv(offline["input_folder_path"] / "dataset3.csv", small_rows(20, 200))
    path.write_text("\n".join(lines[:3]) + "\n")
    ingestion.run_ingestion(offline)
    assert len(final_frame(offline)) == 60


def test_deleted_record_and_file_list_are_rebuilt(offline):
    """ingestion_record.json and ingestedfiles.txt come back from the store."""
    ingestion.run_ingestion(offline)
    output = offline["output_folder_path"]
    (output / INGESTION_RECORD).unlink()
    (output / INGESTED_FILES).write_text("edited\n")
    ingestion.run_ingestion(offline)
    record = json.loads((output / INGESTION_RECORD).read_text())
    assert [e["name"] for e in record["files"]] == ["dataset1.csv", "dataset2.csv"]
    assert (output / INGESTED_FILES).read_text().splitlines() == ["dataset1.csv", "dataset2.csv"]


# ---- 3. huge numbers --------------------------------------------------------------------------


HUGE = ["99999999999999999999", "1e30", "9223372036854775808", "2**63", "9007199254740993"]


def test_huge_numbers_drop_their_row_and_the_run_goes_on(offline):
    """Huge values drop only their row, with a reason; good files of the run are ingested;
    no traceback; finaldata.csv stays loadable."""
    for path in offline["input_folder_path"].glob("*.csv"):
        path.unlink()
    good = small_rows(20, 0)
    bad = [(f"huge{i}", value, 100, 10, 0) for i, value in enumerate(HUGE)]
    bad += [(f"huge-e{i}", 10, 100, value, 1) for i, value in enumerate(HUGE)]
    write_csv(offline["input_folder_path"] / "a_bad.csv", bad + small_rows(12, 300))
    write_csv(offline["input_folder_path"] / "b_good.csv", good)
    done = cli("ingestion.py", offline)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "OverflowError" not in done.stderr
    stored = observations(offline)
    assert not [r for r in stored if r["corporation"].startswith("huge")]
    assert by_source(offline) == {"a_bad.csv": 12, "b_good.csv": 20}
    record = json.loads((offline["output_folder_path"] / INGESTION_RECORD).read_text())
    entry = next(e for e in record["files"] if e["name"] == "a_bad.csv")
    assert entry["rows_rejected"] == len(bad)
    assert any("2^53" in reason for reason in entry["reasons"])
    assert len(dataset.load_dataset(offline["output_folder_path"] / FINALDATA)) == 32
    assert max(r["lastmonth_activity"] for r in stored) <= dataset.MAX_INT


def test_the_bound_itself_is_accepted(offline):
    """2^53 is the largest count accepted; 2^53 + 1 is dropped (compared as text)."""
    rows = [("edge", 2**53, 5, 5, 0), ("over", 2**53 + 1, 5, 5, 0), *small_rows(5, 400)]
    write_csv(offline["input_folder_path"] / "edge.csv", rows)
    ingestion.run_ingestion(offline)
    ids = {r["corporation"] for r in observations(offline)}
    assert "edge" in ids and "over" not in ids


@pytest.mark.parametrize("digits", ["\u0661\u0662", "\uff11\uff12", "\u09e7"])
def test_non_ascii_digits_drop_their_row_and_the_run_goes_on(offline, digits):
    """Counts in Arabic-Indic or full-width digits (Unicode \\d, not 0-9): the row is
    dropped with a reason; no traceback; the good files of the run are ingested."""
    rows = [("uni", 1, digits, 3, 0), *small_rows(6, 300)]
    write_csv(offline["input_folder_path"] / "a_unicode.csv", rows)
    done = cli("ingestion.py", offline)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert by_source(offline) == {"a_unicode.csv": 6, "dataset1.csv": 20, "dataset2.csv": 20}
    entry = next(
        e
        for e in store.load_record(offline["output_folder_path"])["files"]
        if e["name"] == "a_unicode.csv"
    )
    assert entry["rows_rejected"] == 1 and entry["reasons"]


# ---- 4. headers and ids ------------------------------------------------------------------------


def test_capitalised_padded_header_keeps_ids_as_text_and_checks_types(offline):
    """A capitalised, space-padded header: `0012` stays text, a `2.5` count is dropped."""
    header = " Corporation , LastMonth_Activity,LASTYEAR_ACTIVITY , Number_Of_Employees ,Exited "
    rows = [("0012", 5, 50, 10, 1), ("0013", "2.5", 50, 10, 0), *small_rows(10, 500)]
    write_csv(offline["input_folder_path"] / "caps.csv", rows, header=header)
    ingestion.run_ingestion(offline)
    ids = [r["corporation"] for r in observations(offline) if r["source"] == "caps.csv"]
    assert "0012" in ids and "12" not in ids and "0013" not in ids
    assert len(ids) == 11
    assert "0012" in set(final_frame(offline)["corporation"])
    entry = next(
        e
        for e in store.load_record(offline["output_folder_path"])["files"]
        if e["name"] == "caps.csv"
    )
    assert entry["rows_rejected"] == 1 and "non-integer" in " ".join(entry["reasons"])
    assert len(dataset.load_dataset(offline["output_folder_path"] / FINALDATA)) > 0


# ---- 5. order of arrival -------------------------------------------------------------------


def test_latest_observation_is_the_last_to_arrive(offline):
    """Files are taken by modification time then name; a March row equal to January's is
    an observation of its own and is the client's latest."""
    folder = offline["input_folder_path"]
    for path in folder.glob("*.csv"):
        path.unlink()
    base = time.time() - 10_000
    january, february = ("acme", 10, 100, 5, 0), ("acme", 99, 999, 9, 1)
    files = [
        ("month1.csv", january, base),
        ("month2.csv", february, base + 100),
        ("month3.csv", january, base + 200),  # equal to January's row
        ("month10.csv", ("zeta", 10, 10, 10, 0), base + 400),  # after month9 in time
        ("month9.csv", ("zeta", 90, 90, 90, 1), base + 300),
    ]
    for name, row, mtime in files:
        write_csv(folder / name, [row, *small_rows(3, 600 + int(mtime - base))])
        os.utime(folder / name, (mtime, mtime))
    ingestion.run_ingestion(offline)
    order = [r["source"] for r in observations(offline)]
    firsts = list(dict.fromkeys(order))
    assert firsts == ["month1.csv", "month2.csv", "month3.csv", "month9.csv", "month10.csv"]
    latest = {r[1]: r[1:] for r in store.latest_observations(offline["output_folder_path"])}
    assert latest["acme"] == january
    assert latest["zeta"] == ("zeta", 10, 10, 10, 0)
    acme = store.client_observations(offline["output_folder_path"], "acme")
    assert [r[1:] for r in acme] == [january, february, january]
    assert max(r[0] for r in acme) == next(
        r[0] for r in store.latest_observations(offline["output_folder_path"]) if r[1] == "acme"
    )


def test_same_mtime_files_go_by_name(offline):
    """Files modified at the same instant are taken in name order."""
    folder = offline["input_folder_path"]
    for path in folder.glob("*.csv"):
        path.unlink()
    then = time.time() - 5000
    for name, start in (("b.csv", 0), ("a.csv", 10), ("c.csv", 20)):
        write_csv(folder / name, small_rows(3, start))
        os.utime(folder / name, (then, then))
    ingestion.run_ingestion(offline)
    assert list(dict.fromkeys(r["source"] for r in observations(offline))) == [
        "a.csv",
        "b.csv",
        "c.csv",
    ]


# ---- 6. database watermark ties ----------------------------------------------------------------


def timestamp_rows(start: int, n: int, stamps: list[str]) -> list[tuple]:
    """n rows (unique content) with the given timestamps."""
    return [(stamps[i], *row) for i, row in enumerate(small_rows(n, start))]


def test_timestamp_watermark_reads_ties_exactly_once(workspace):
    """20 rows, then 15 more of which 5 tie with the last value read: all 35, once each."""
    db = workspace / "clients.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "CREATE TABLE client_activity (ts TEXT, corporation TEXT, lastmonth_activity "
            "INTEGER, lastyear_activity INTEGER, number_of_employees INTEGER, exited INTEGER)"
        )
        stamps = [f"2026-01-{d:02d}T00:00:00" for d in range(1, 19)] + ["2026-01-20T00:00:00"] * 2
        conn.executemany(
            "INSERT INTO client_activity VALUES (?, ?, ?, ?, ?, ?)", timestamp_rows(0, 20, stamps)
        )
    for path in (workspace / "practicedata").glob("*.csv"):
        path.unlink()
    config = configure(
        workspace, input_database={"url": "sqlite:///clients.db", "watermark_column": "ts"}
    )
    ingestion.run_ingestion(config)
    assert len(observations(config)) == 20
    with closing(sqlite3.connect(db)) as conn, conn:
        stamps = ["2026-01-20T00:00:00"] * 5 + [f"2026-02-{d:02d}T00:00:00" for d in range(1, 11)]
        conn.executemany(
            "INSERT INTO client_activity VALUES (?, ?, ?, ?, ?, ?)",
            timestamp_rows(100, 15, stamps),
        )
    assert fullprocess.new_inputs(config)  # the tick sees the tied rows as new
    ingestion.run_ingestion(config)
    ingestion.run_ingestion(config)  # a third read finds nothing new
    ids = [r["corporation"] for r in observations(config)]
    assert len(ids) == 35 and len(set(ids)) == 35
    assert not fullprocess.new_inputs(config)


def test_only_ties_arriving_are_read(workspace):
    """Rows added only at the last watermark value are read, and only once."""
    db = workspace / "clients.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "CREATE TABLE client_activity (ts INTEGER, corporation TEXT, lastmonth_activity "
            "INTEGER, lastyear_activity INTEGER, number_of_employees INTEGER, exited INTEGER)"
        )
        conn.executemany(
            "INSERT INTO client_activity VALUES (?, ?, ?, ?, ?, ?)",
            timestamp_rows(0, 10, [1] * 5 + [2] * 5),
        )
    for path in (workspace / "practicedata").glob("*.csv"):
        path.unlink()
    config = configure(
        workspace, input_database={"url": "sqlite:///clients.db", "watermark_column": "ts"}
    )
    ingestion.run_ingestion(config)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            "INSERT INTO client_activity VALUES (?, ?, ?, ?, ?, ?)",
            timestamp_rows(50, 3, [2] * 3),
        )
    assert fullprocess.new_inputs(config)
    ingestion.run_ingestion(config)
    assert len(observations(config)) == 13
    assert not fullprocess.new_inputs(config)


# ---- 7. resumable steps ------------------------------------------------------------------------


def test_typo_in_test_data_path_on_first_run_then_fixed_deploys(workspace):
    """First run with a wrong test_data_path fails (batch kept at its step); after fixing
    the config the next tick deploys that batch."""
    bad = configure(workspace, test_data_path="testdat")
    with pytest.raises(RiskError):
        fullprocess.run_once(bad)
    (batch,) = batches(bad)
    assert batch["step"] in ("ingested", "judged") and batch["step"] != "done"
    assert store.read_history(bad["output_folder_path"], 1)[0]["decision"] == "error"
    good = configure(workspace, test_data_path="testdata")
    run = fullprocess.run_once(good)
    assert run.decision == "deployed" and run.new_version == "v0001"
    assert run.batch_id == batch["id"]
    assert [b["step"] for b in batches(good)] == ["done"]
    assert deployment.current_version(good["prod_deployment_path"]) == "v0001"


def test_test_data_missing_after_drift_resumes_and_retrains(workspace):
    """Drift detected, then the test data vanishes during retraining: the verdict is kept;
    once it is back the next tick retrains from that verdict (no second judgement)."""
    config = configure(workspace, model_drift={"min_batch_rows": 10})
    fullprocess.run_once(config)
    inverted = [(f"inv{i}", *r[1:4], 1 - r[4]) for i, r in enumerate(small_rows(60, 700))]
    write_csv(config["input_folder_path"] / "inverted.csv", inverted)
    test_dir = config["test_data_path"]
    test_dir.rename(test_dir.with_name("testdata.away"))
    with pytest.raises(RiskError):
        fullprocess.run_once(config)
    pending = store.pending_batch(config["output_folder_path"])
    assert pending is not None and pending["step"] == "judged"
    assert pending["verdict"]["retrain"] is True
    assert pending["verdict"]["fields"]["model_drift"] is True
    test_dir.with_name("testdata.away").rename(test_dir)
    run = fullprocess.run_once(config)
    assert run.batch_id == pending["id"] and run.new_f1 is not None
    assert run.decision in ("deployed", "refused")
    assert run.model_drift is True
    after = next(b for b in batches(config) if b["id"] == pending["id"])
    assert after["step"] == "done" and after["verdict"] == pending["verdict"]
    assert fullprocess.run_once(config).reason == "no new data"


# ---- 8. hand ingestion, then the cron job ------------------------------------------------------


def test_batch_ingested_by_hand_gets_its_drift_verdict(offline):
    """ingestion.py run by hand, then fullprocess: the batch is judged, with its rows."""
    fullprocess.run_once(offline)
    write_csv(offline["input_folder_path"] / "dataset3.csv", small_rows(60, 200))
    done = cli("ingestion.py", offline)
    assert done.returncode == 0, done.stderr
    run = fullprocess.run_once(offline)
    assert run.new_rows == 60 and run.new_files == ["dataset3.csv"]
    assert run.model_drift is not None and run.batch_f1 is not None
    assert run.decision in ("no drift", "deployed", "refused")
    assert all(b["step"] == "done" for b in batches(offline))


# ---- 9. unexpected errors and config ranges ------------------------------------------------------


def test_unexpected_exception_is_recorded_as_error_with_traceback_in_the_log(offline):
    """A TypeError inside a run: decision `error`, `TypeError: ...` summary, exit 1, one
    line on stderr without traceback, the traceback in fullprocess.log."""
    fullprocess.run_once(offline)
    meta_path = offline["prod_deployment_path"] / "current" / MODEL_META
    meta_path = meta_path.resolve()
    meta = json.loads(meta_path.read_text())
    meta["profile"] = {"lastmonth_activity": "garbage"}  # ref["edges"] raises TypeError
    meta_path.write_text(json.dumps(meta))
    write_csv(offline["input_folder_path"] / "dataset3.csv", small_rows(60, 200))
    done = cli("fullprocess.py", offline)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert len(errors(done.stderr)) == 1 and "TypeError" in errors(done.stderr)[0]
    last = store.read_history(offline["output_folder_path"], 1)[0]
    assert last["decision"] == "error" and last["error"].startswith("TypeError: ")
    assert "\n" not in last["error"]
    log = (offline["output_folder_path"] / "fullprocess.log").read_text()
    assert "Traceback (most recent call last)" in log and "TypeError" in log
    pending = store.pending_batch(offline["output_folder_path"])
    assert pending is not None and pending["step"] == "ingested"  # retried next tick


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("model_drift", "confidence", 95),
        ("training", "C", 0),
        ("model_drift", "min_batch_rows", -5),
        ("ingestion", "settle_seconds", -1),
        ("retention", "keep_versions", 1),
        ("ingestion", "max_bad_row_share", 1.5),
    ],
)
def test_config_out_of_range_is_refused_at_load(workspace, section, key, value):
    """Out-of-range values are refused at load, naming the key and the allowed range."""
    path = workspace / "config.json"
    given = json.loads(path.read_text())
    given[section] = {**given.get(section, {}), key: value}
    path.write_text(json.dumps(given))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{section}.{key}" in message and "range" in message and "\n" not in message
    done = run_script("ingestion.py", "--config", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{section}.{key}" in done.stderr
    assert not (workspace / "ingesteddata" / store.STORE_FILE).exists()


def test_in_range_edges_are_accepted(workspace):
    """The documented edges themselves load."""
    configure(workspace, model_drift={"confidence": 0.99, "min_batch_rows": 1})


# ---- 10. files still being written ------------------------------------------------------------


def append_later(path: Path, text: str, after: float) -> threading.Thread:
    """A writer that appends text to path after `after` seconds (started)."""

    def write() -> None:
        time.sleep(after)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_file_being_written_waits_for_the_next_tick(workspace, caplog):
    """A file still being written (cut off at `1` of `131` employees, finished while
    ingestion waits settle_seconds) is left for the next tick with one log line; once
    settled it is ingested whole, never as the wrong valid row."""
    config = configure(workspace, ingestion={"settle_seconds": 1.5})
    for path in config["input_folder_path"].glob("*.csv"):
        age(path)
    path = config["input_folder_path"] / "big.csv"
    path.write_text(
        "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\nacme,10,100,1"
    )
    writer = append_later(path, "31,0\n", 0.4)
    caplog.set_level(logging.INFO)
    try:
        ingestion.run_ingestion(config)
    finally:
        writer.join()
    assert set(by_source(config)) == {"dataset1.csv", "dataset2.csv"}
    about = [r for r in caplog.records if "big.csv" in r.getMessage()]
    assert len(about) == 1 and "next" in about[0].getMessage()
    age(path)
    assert fullprocess.new_inputs(config) == ["big.csv"]
    ingestion.run_ingestion(config)
    (row,) = [r for r in observations(config) if r["source"] == "big.csv"]
    assert row["number_of_employees"] == 131


def test_fresh_file_that_stays_still_is_ingested_after_the_wait(workspace):
    """A fresh file that does not change during the wait is ingested in the same run."""
    config = configure(workspace, ingestion={"settle_seconds": 1.0})
    started = time.monotonic()
    ingestion.run_ingestion(config)
    assert by_source(config) == {"dataset1.csv": 20, "dataset2.csv": 20}
    assert time.monotonic() - started < 30


def test_the_cron_tick_leaves_a_changing_file_for_later(workspace, caplog):
    """fullprocess's look for new data does not call a file that is still changing new."""
    config = configure(workspace, ingestion={"settle_seconds": 1.5})
    fullprocess.run_once(config)
    path = write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(20, 200))
    writer = append_later(path, "c999,1,", 0.4)
    caplog.set_level(logging.INFO)
    try:
        assert fullprocess.new_inputs(config) == []
    finally:
        writer.join()
    assert len([r for r in caplog.records if "dataset3.csv" in r.getMessage()]) == 1


# ---- 11. huge lines and forged lines -------------------------------------------------------------


def test_twenty_megabyte_line_stays_out_of_the_log_and_record(offline):
    """A 20 MB single-line file: every log line and record entry stays below 10 KB."""
    big = offline["input_folder_path"] / "huge.csv"
    big.write_bytes(b"corporation," + b"x" * 20_000_000)
    big2 = offline["input_folder_path"] / "huge2.csv"
    big2.write_bytes(b"A" * 20_000_000)
    done = cli("fullprocess.py", offline)
    assert done.returncode == 0, done.stderr[-2000:]
    assert max(len(ln) for ln in done.stderr.splitlines()) < MAX_LINE
    log = offline["output_folder_path"] / "fullprocess.log"
    assert max(len(ln) for ln in log.read_text().splitlines()) < MAX_LINE
    assert log.stat().st_size < 100_000
    record_path = offline["output_folder_path"] / INGESTION_RECORD
    assert record_path.stat().st_size < 100_000
    record = json.loads(record_path.read_text())
    for entry in record["files"]:
        assert len(json.dumps(entry)) < MAX_LINE
    names = {e["name"]: e for e in record["files"]}
    assert names["huge.csv"]["status"] == "rejected" and names["huge2.csv"]["status"] == "rejected"
    assert len(json.dumps(record["runs"])) < MAX_LINE


def test_newline_in_a_file_name_cannot_forge_a_line(offline):
    """A newline in a file name is escaped in the log, stderr and ingestedfiles.txt."""
    forged = "evil\n2099-01-01 00:00:00,000 fullprocess ERROR FORGED-LINE.csv"
    write_csv(offline["input_folder_path"] / forged, small_rows(10, 800))
    done = cli("fullprocess.py", offline)
    assert done.returncode == 0, done.stderr
    log = (offline["output_folder_path"] / "fullprocess.log").read_text()
    for text in (done.stderr, log):
        assert not [ln for ln in text.splitlines() if ln.startswith("2099-01-01")]
        assert "FORGED-LINE" in text  # named, escaped, on its own event's line
    listed = (offline["output_folder_path"] / INGESTED_FILES).read_text().splitlines()
    assert len(listed) == 3 and "dataset1.csv" in listed and "dataset2.csv" in listed
    assert any("FORGED-LINE" in name and "\\n" in name for name in listed)
    assert by_source(offline)  # the file's rows are stored
    assert sum(1 for r in observations(offline) if "FORGED" in r["source"]) == 10


# ---- 12. idle ticks -----------------------------------------------------------------------------


def test_sixty_idle_ticks_are_one_history_row(offline):
    """60 idle ticks fold into one row (ticks 60); the last judged batch is still found."""
    fullprocess.run_once(offline)
    write_csv(offline["input_folder_path"] / "dataset3.csv", small_rows(60, 200))
    judged = fullprocess.run_once(offline)
    assert judged.model_drift is not None
    for _ in range(60):
        assert fullprocess.run_once(offline).batch_id is None
    rows = store.read_history(offline["output_folder_path"], 50)
    assert len(rows) == 3
    assert rows[0]["ticks"] == 60 and rows[0]["decision"] == "none"
    last = store.last_judged_run(offline["output_folder_path"])
    assert last is not None and last["batch_id"] == judged.batch_id
    assert last["model_drift"] == judged.model_drift


def test_dashboard_shows_the_last_judged_batch_after_many_idle_ticks(offline):
    """The dashboard shows the last drift verdict however many idle ticks came after."""
    from risk_assessment.server.app import create_app

    fullprocess.run_once(offline)
    write_csv(offline["input_folder_path"] / "dataset3.csv", small_rows(60, 200))
    fullprocess.run_once(offline)
    for _ in range(55):
        fullprocess.run_once(offline)
    page = create_app(offline).test_client().get("/").get_data(as_text=True)
    assert "No batch has been checked for drift yet" not in page


def test_an_idle_tick_after_a_real_run_starts_a_new_row(offline):
    """Idle ticks fold only into an idle row, never into a real run."""
    fullprocess.run_once(offline)
    fullprocess.run_once(offline)
    fullprocess.run_once(offline)
    rows = store.read_history(offline["output_folder_path"], 10)
    assert [r["decision"] for r in rows] == ["none", "deployed"]
    assert rows[0]["ticks"] == 2 and rows[1]["ticks"] in (1, None)


# ---- 13. unreadable files, *.CSV, kill after deploying -------------------------------------------


def test_unreadable_file_is_skipped_and_the_good_one_ingested(offline):
    """bad.csv -> /proc/self/mem (read raises EIO): a warning; the good files are ingested."""
    os.symlink("/proc/self/mem", offline["input_folder_path"] / "bad.csv")
    done = cli("ingestion.py", offline)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    warned = [ln for ln in done.stderr.splitlines() if "bad.csv" in ln]
    assert len(warned) == 1 and " WARNING " in warned[0]
    assert by_source(offline) == {"dataset1.csv": 20, "dataset2.csv": 20}
    assert fullprocess.new_inputs(offline) == []  # not new: unreadable, warned again


def test_upper_case_extension_is_ingested(offline):
    """dataset5.CSV is ingested like any .csv file."""
    write_csv(offline["input_folder_path"] / "dataset5.CSV", small_rows(10, 900))
    assert "dataset5.CSV" in fullprocess.new_inputs(offline)
    ingestion.run_ingestion(offline)
    assert by_source(offline)["dataset5.CSV"] == 10
    names = (offline["output_folder_path"] / INGESTED_FILES).read_text().splitlines()
    assert "dataset5.CSV" in names


def test_kill_right_after_deploying_still_reports(offline):
    """A run killed right after deploying (batch at step deployed): the next tick writes
    the risk list and the report for the new model."""
    batch = fullprocess.ingest_step(offline).batch
    batch = fullprocess.judge_step(offline, batch, fullprocess.batch_frame(offline, batch["id"]))
    batch = fullprocess.gate_step(offline, batch)
    batch = fullprocess.deploy_step(offline, batch)
    assert batch["step"] == "deployed"
    models = offline["output_model_path"]
    assert not (models / "risk_scores.csv").exists()
    assert not (models / "summary_report.pdf").exists()
    resumed = fullprocess.run_once(offline)
    assert resumed.batch_id == batch["id"] and resumed.new_version == "v0001"
    assert (models / "risk_scores.csv").stat().st_size > 0
    assert (models / "summary_report.pdf").stat().st_size > 0
    assert [b["step"] for b in batches(offline)] == ["done"]
    assert deployment.list_versions(offline["prod_deployment_path"]) == ["v0001"]


def test_batch_advanced_to_deployed_by_hand_is_reported(offline):
    """The same, with the batch moved to step deployed through store.advance_batch."""
    deploy_workspace(offline)  # ingests (batch 1 pending), trains, scores, deploys v0001
    (batch,) = batches(offline)
    sha = json.loads((offline["output_model_path"] / MODEL_META).read_text())["model_sha256"]
    store.advance_batch(
        offline["output_folder_path"],
        batch["id"],
        "deployed",
        verdict={"fields": {}, "retrain": True, "reason": "no deployed model yet"},
        gate={"deploy": True, "reason": "first deployment", "new_f1": 1.0, "model_sha256": sha},
        new_version="v0001",
    )
    fullprocess.run_once(offline)
    assert (offline["output_model_path"] / "risk_scores.csv").exists()
    assert [b["step"] for b in batches(offline)] == ["done"]


# ---- 14. an installation made by the previous code ----------------------------------------


LEGACY_COMMIT = "afb2598"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A workspace made by the code of commit afb2598 (its own scripts and config)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot extract the previous code")
    code = tmp_path / "oldcode"
    code.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", LEGACY_COMMIT], capture_output=True, timeout=60
    )
    if archive.returncode != 0:
        pytest.skip(f"commit {LEGACY_COMMIT} not available: {archive.stderr.decode()[:200]}")
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive.stdout, check=True)
    config = json.loads((code / "config.json").read_text())
    config["diagnostics"] = {
        "package_index_url": "http://127.0.0.1:9/pypi",
        "index_timeout_seconds": 1,
    }
    config["api"] = {"base_url": "http://127.0.0.1:9"}
    (code / "config.json").write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "fullprocess.py"], cwd=code, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (code / "ingesteddata" / "runs.db").exists()
    return code


def test_legacy_installation_is_taken_over(legacy):
    """The new code opens the old installation: rows, files and history carried over,
    and the next tick with new data works."""
    old_final = pd.read_csv(legacy / "ingesteddata" / FINALDATA, dtype=str)
    old_names = (legacy / "ingesteddata" / INGESTED_FILES).read_text().split()
    config = configure(legacy)
    output = config["output_folder_path"]
    store.open_store(output).close()  # the first open imports the old files
    assert len(store.training_rows(output)) == len(old_final)
    assert [e["name"] for e in store.load_record(output)["files"]] == old_names
    history = store.read_history(output, 10)
    assert [r["decision"] for r in history] == ["deployed"]
    assert history[-1]["new_version"] == "v0001"
    idle = fullprocess.run_once(config)
    assert idle.error is None and idle.reason == "no new data", idle.reason
    assert len(final_frame(config)) == len(old_final)
    shutil.copy(legacy / "sourcedata" / "dataset3.csv", config["input_folder_path"])
    run = fullprocess.run_once(config)
    assert run.error is None and run.new_files == ["dataset3.csv"]
    assert run.deployed_version == "v0001" and run.new_rows > 0
    assert run.decision in ("no drift", "deployed", "refused")
    assert len(final_frame(config)) > len(old_final)
    assert deployment.load_deployed(config["prod_deployment_path"])[0] is not None
    assert done_cli_history(config)


def test_first_tick_on_a_legacy_installation_ingests_nothing_again(legacy):
    """The very first tick of the new code (store.db not created yet) knows the old
    installation's files: "no new data", and no row is stored twice."""
    old_final = pd.read_csv(legacy / "ingesteddata" / FINALDATA, dtype=str)
    config = configure(legacy)
    assert fullprocess.new_inputs(config) == []
    idle = fullprocess.run_once(config)
    assert idle.error is None and idle.reason == "no new data", idle.reason
    assert len(observations(config)) == len(old_final)
    record = store.load_record(config["output_folder_path"])
    assert sorted(e["name"] for e in record["files"]) == ["dataset1.csv", "dataset2.csv"]


def done_cli_history(config: dict) -> bool:
    """--history on the migrated installation prints without error."""
    done = cli("fullprocess.py", config, "--history")
    assert done.returncode == 0, done.stderr
    return "deployed" in done.stdout


# ---- retention ---------------------------------------------------------------------------------


def deploy_with_c(config: dict, c: float) -> str:
    """Train with C=c (a different model), score and deploy it; returns the version."""
    config["training"]["C"] = c
    training.run_training(config)
    scoring.run_scoring(config)
    return deployment.deploy(config)


def test_retention_keeps_live_and_previous(offline):
    """keep_versions 2: older versions are pruned, the live and the previous one kept."""
    ingestion.run_ingestion(offline)
    made = [deploy_with_c(offline, c) for c in (1.0, 0.5, 0.2, 0.05)]
    assert made == ["v0001", "v0002", "v0003", "v0004"]
    offline["retention"]["keep_versions"] = 2
    gone = deployment.prune(offline)
    assert sorted(gone) == ["v0001", "v0002"]
    prod = offline["prod_deployment_path"]
    assert deployment.list_versions(prod) == ["v0003", "v0004"]
    assert deployment.current_version(prod) == "v0004"
    assert deployment.rollback(prod) == "v0003"
    deployment.load_deployed(prod)


def test_retention_never_removes_the_live_version_after_a_rollback(offline):
    """With a rolled-back live version, it and the one before it survive pruning."""
    ingestion.run_ingestion(offline)
    for c in (1.0, 0.5, 0.2, 0.05, 0.01):
        deploy_with_c(offline, c)
    prod = offline["prod_deployment_path"]
    deployment.rollback(prod)
    deployment.rollback(prod)  # live: v0003
    offline["retention"]["keep_versions"] = 2
    deployment.prune(offline)
    kept = deployment.list_versions(prod)
    assert {"v0002", "v0003"} <= set(kept) and "v0001" not in kept
    assert deployment.current_version(prod) == "v0003"
    deployment.load_deployed(prod)


def test_retention_prunes_refused_models(offline):
    """keep_refused: only the newest refused models are kept."""
    refused = offline["output_model_path"] / "refused"
    for i in range(5):
        (refused / f"2026-01-0{i + 1}T000000").mkdir(parents=True)
    offline["retention"]["keep_refused"] = 2
    deployment.prune(offline)
    assert sorted(p.name for p in refused.iterdir()) == ["2026-01-04T000000", "2026-01-05T000000"]


def test_retention_prunes_old_history(offline):
    """History rows older than history_days are deleted; recent ones kept."""
    fullprocess.run_once(offline)
    store.record_run(
        offline["output_folder_path"],
        Run(started_at="2001-01-01T00:00:00+00:00", decision="no drift", batch_id=99),
    )
    assert store.prune_history(offline["output_folder_path"], 365) == 1
    rows = store.read_history(offline["output_folder_path"], 10)
    assert [r["decision"] for r in rows] == ["deployed"]


def test_a_tick_applies_history_retention(offline):
    """retention.history_days is applied by the cron job: a run older than it is deleted."""
    store.record_run(
        offline["output_folder_path"],
        Run(started_at="2001-01-01T00:00:00+00:00", decision="no drift", batch_id=99),
    )
    fullprocess.run_once(offline)
    fullprocess.run_once(offline)
    rows = store.read_history(offline["output_folder_path"], 10)
    assert "2001-01-01T00:00:00+00:00" not in [r["started_at"] for r in rows]


def test_a_refusal_applies_refused_retention(workspace):
    """keep_refused is applied when the gate refuses too, not only after a deployment."""
    config = configure(workspace, model_drift={"min_batch_rows": 10}, retention={"keep_refused": 1})
    fullprocess.run_once(config)
    refused = config["output_model_path"] / "refused"
    for i in range(3):
        (refused / f"2001-01-0{i + 1}T000000").mkdir(parents=True)
    inverted = [(f"inv{i}", *r[1:4], 1 - r[4]) for i, r in enumerate(small_rows(60, 700))]
    write_csv(config["input_folder_path"] / "inverted.csv", inverted)
    run = fullprocess.run_once(config)
    assert run.decision == "refused", run.reason
    kept = sorted(p.name for p in refused.iterdir())
    assert len(kept) == 1 and not kept[0].startswith("2001"), kept


def test_unlabelled_rows_are_stored_ranked_never_trained_on(offline):
    """Rows with an empty `exited` are stored as unlabelled observations: not in
    finaldata.csv, not trained on, but in the latest observations."""
    current = [(f"cur{i}", 10 + i, 100 + i, 5, "") for i in range(7)]
    write_csv(offline["input_folder_path"] / "current.csv", current)
    ingestion.run_ingestion(offline)
    stored = [r for r in observations(offline) if r["source"] == "current.csv"]
    assert len(stored) == 7 and all(r["exited"] is None for r in stored)
    assert not set(final_frame(offline)["corporation"]) & {r[0] for r in current}
    latest = {r[1] for r in store.latest_observations(offline["output_folder_path"])}
    assert {r[0] for r in current} <= latest
    training.run_training(offline)
    assert len(final_frame(offline)) == 40


def test_only_store_py_touches_the_store_and_reporting_needs_no_fullprocess():
    """store/handle.py and records.py are the only modules whose code names the store file or
    the legacy runs.db, and reporting no longer imports fullprocess for its state."""
    import ast

    for path in sorted([*ROOT.glob("*.py"), *(ROOT / "risk_assessment").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        imported, strings = set(), []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) not in docstrings:
                    strings.append(node.value)
        if path.name == "reporting.py":
            assert "fullprocess" not in imported
        if path.name not in ("records.py", "handle.py"):
            assert not [t for t in strings if "store.db" in t or "runs.db" in t], path
