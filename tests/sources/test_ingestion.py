"""Tests of ingestion.py on real files: merging, de-duplication, bad files, bad rows, CLI."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from risk_assessment.core.common import FINALDATA, INGESTED_FILES, INGESTION_RECORD
from risk_assessment.core.settings import load_config
from risk_assessment.sources import ingestion
from tests.conftest import (
    COLUMNS,  # the default schema's columns
    HEADER,
    run_script,
    small_rows,
    write_csv,
)

OUTPUTS = [FINALDATA, INGESTED_FILES, INGESTION_RECORD]
ENTRY_KEYS = {
    "name",
    "sha256",
    "rows_read",
    "rows_kept",
    "rows_rejected",
    "rows_new",
    "reasons",
    "time",
    "status",
    "error",
}


def output(config: dict, name: str = FINALDATA) -> Path:
    """A file in the configured output folder."""
    return config["output_folder_path"] / name


def final_rows(config: dict) -> pd.DataFrame:
    """finaldata.csv as text cells."""
    return pd.read_csv(output(config), dtype=str, keep_default_na=False)


def record(config: dict) -> dict:
    """The ingestion record as saved."""
    return json.loads(output(config, INGESTION_RECORD).read_text(encoding="utf-8"))


def entry_for(result: ingestion.IngestionResult, name: str) -> dict:
    """The record entry of one file handled in a run."""
    (entry,) = [f.entry for f in result.files if f.entry["name"] == name]
    return entry


def snapshot(config: dict) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every output file."""
    return {
        name: (output(config, name).read_bytes(), output(config, name).stat().st_mtime_ns)
        for name in OUTPUTS
    }


def test_happy_path_writes_data_list_and_record(config):
    """All rows land in finaldata.csv; the list and the record describe each file."""
    result = ingestion.run_ingestion(config)
    data = final_rows(config)
    assert list(data.columns) == COLUMNS
    assert len(data) == 40
    assert set(data["corporation"]) == {row[0] for row in small_rows(40)}
    assert output(config, INGESTED_FILES).read_text() == "dataset1.csv\ndataset2.csv\n"
    saved = record(config)
    assert [e["name"] for e in saved["files"]] == ["dataset1.csv", "dataset2.csv"]
    for entry in saved["files"]:
        assert ENTRY_KEYS <= set(entry)
        assert entry["status"] == "ingested"
        assert (entry["rows_read"], entry["rows_kept"], entry["rows_new"]) == (20, 20, 20)
        assert entry["rows_rejected"] == 0 and entry["reasons"] == {}
        assert len(entry["sha256"]) == 64
    (run,) = saved["runs"]
    assert run["seconds"] >= 0 and run["rows_total"] == 40
    assert result.metrics["files_ingested"] == ["dataset1.csv", "dataset2.csv"]


def test_ingest_alone_writes_nothing(config):
    """ingest() computes the result and leaves the output folder untouched."""
    result = ingestion.ingest(config["input_folder_path"], config["output_folder_path"])
    assert len(result.new_rows) == 40
    assert not config["output_folder_path"].exists()


def test_reordered_columns_and_extra_column(config):
    """Columns in another order plus an extra column: ingested, extra column dropped."""
    path = config["input_folder_path"] / "dataset3.csv"
    header = "exited,number_of_employees,notes,corporation,lastyear_activity,lastmonth_activity"
    rows = [(r[4], r[3], "hello", r[0], r[2], r[1]) for r in small_rows(5, 40)]
    write_csv(path, rows, header=header)
    result = ingestion.run_ingestion(config)
    assert entry_for(result, "dataset3.csv")["rows_new"] == 5
    data = final_rows(config)
    assert list(data.columns) == COLUMNS
    expected = [str(v) for v in small_rows(1, 40)[0]]
    assert data[data["corporation"] == "c040"].values.tolist() == [expected]


def test_rerun_changes_nothing(config):
    """A second run with no new files rewrites no output file."""
    ingestion.run_ingestion(config)
    before = snapshot(config)
    result = ingestion.run_ingestion(config)
    assert result.files == [] and len(result.skipped) == 2
    assert snapshot(config) == before


def test_rerun_logs_nothing_new_without_question_marks(config, caplog):
    """A run with nothing new says so in one line, with no '?' for an unknown count."""
    ingestion.run_ingestion(config)
    with caplog.at_level(logging.INFO, logger="ingestion"):
        ingestion.run_ingestion(config)
    assert any("nothing new to ingest" in m for m in caplog.messages)
    assert not any("?" in m for m in caplog.messages)


def test_new_file_is_added_to_previous_rows(config):
    """A file that arrives later adds its rows after the ones ingested before."""
    ingestion.run_ingestion(config)
    before = output(config).read_bytes()
    write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(10, 40))
    result = ingestion.run_ingestion(config)
    assert [f.entry["name"] for f in result.files] == ["dataset3.csv"]
    assert output(config).read_bytes().startswith(before)
    assert len(final_rows(config)) == 50
    assert output(config, INGESTED_FILES).read_text().splitlines()[-1] == "dataset3.csv"


def test_renamed_duplicate_is_not_ingested(config):
    """A copy of an ingested file under another name changes nothing."""
    ingestion.run_ingestion(config)
    before = snapshot(config)
    copy = config["input_folder_path"] / "dataset1_copy.csv"
    shutil.copy(config["input_folder_path"] / "dataset1.csv", copy)
    result = ingestion.run_ingestion(config)
    assert result.files == [] and copy in result.skipped
    assert snapshot(config) == before


def test_file_changed_in_place_adds_only_new_row(config):
    """Appending a row to an ingested file makes it new data; only that row is added."""
    ingestion.run_ingestion(config)
    path = config["input_folder_path"] / "dataset1.csv"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("zzzz,1,2,3,1\n")
    result = ingestion.run_ingestion(config)
    entry = entry_for(result, "dataset1.csv")
    assert (entry["status"], entry["rows_read"], entry["rows_new"]) == ("ingested", 21, 1)
    data = final_rows(config)
    assert len(data) == 41
    assert data.iloc[-1].tolist() == ["zzzz", "1", "2", "3", "1"]


def test_duplicate_rows_across_files_are_dropped(config):
    """Rows repeated exactly in a second file are dropped and not counted as new."""
    repeated = small_rows(5, 0)
    write_csv(config["input_folder_path"] / "dataset2.csv", small_rows(20, 20) + repeated)
    result = ingestion.run_ingestion(config)
    entry = entry_for(result, "dataset2.csv")
    assert (entry["rows_kept"], entry["rows_new"]) == (25, 20)
    assert entry_for(result, "dataset1.csv")["rows_new"] == 20
    assert len(final_rows(config)) == 40
    assert result.metrics["rows_new"] == 40


def numbers(value: str, n: int = 5) -> bytes:
    """A CSV body whose lastmonth_activity is value in every row."""
    return "".join(f"r{i:03d},{value},100,10,0\n" for i in range(n)).encode()


GOOD_BODY = "".join(",".join(map(str, r)) + "\n" for r in small_rows(10, 60)).encode()
HEAD = (HEADER + "\n").encode()
BAD_FILES = {
    "missing-column": (
        b"corporation,lastmonth_activity,lastyear_activity,exited\nabcd,1,2,0\n",
        "number_of_employees",
    ),
    "wrong-columns": (b"name,age,city\nann,31,oslo\nbob,45,rome\n", "missing column"),
    "text-in-number-column": (HEAD + numbers("lots"), "non-numeric lastmonth_activity"),
    "empty": (b"", "empty file"),
    "header-only": (HEAD, "header only"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary"),
    "json": (b'{"corporation": "abcd", "exited": 1}\n', "missing column"),
    "not-utf8": (HEAD + b"ab\xe9d,1,2,3,0\n" + GOOD_BODY, "not UTF-8"),
    "latin-1": (
        HEAD + b"ab\xe9d,1,2,3,0\n",
        "not UTF-8 text (line 2: byte 0xe9; looks like Latin-1/Windows-1252?): save it as UTF-8",
    ),
    "utf-16": ((HEADER + "\nabcd,1,2,3,0\n").encode("utf-16"), "looks like UTF-16"),
    "semicolons-decimal-commas": (
        HEAD.replace(b",", b";") + b"abcd;1,5;2;3;0\nabce;Nord, Pas;2;3;1\n",
        "fields separated by ';': save it as comma-separated",
    ),
    "too-many-fields": (HEAD + GOOD_BODY + b"abcd,1,2,3,0,9\n" + GOOD_BODY, "malformed CSV"),
    "too-many-fields-first-row": (HEAD + b"abcd,1,2,3,0,9\n" + GOOD_BODY, "malformed CSV"),
}


@pytest.mark.parametrize(("content", "problem"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_is_rejected_and_good_files_kept(config, caplog, content, problem):
    """A bad file is rejected with a message naming the problem; good files still go in."""
    bad = config["input_folder_path"] / "bad.csv"
    bad.write_bytes(content)
    with caplog.at_level(logging.INFO, logger="ingestion"):
        result = ingestion.run_ingestion(config)
    entry = entry_for(result, "bad.csv")
    assert entry["status"] == "rejected"
    assert problem in entry["error"]
    assert result.metrics["files_ingested"] == ["dataset1.csv", "dataset2.csv"]
    assert len(final_rows(config)) == 40
    saved = {e["name"]: e for e in record(config)["files"]}
    assert saved["bad.csv"]["status"] == "rejected" and saved["bad.csv"]["error"]
    assert "bad.csv" not in output(config, INGESTED_FILES).read_text()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(str(bad) in m and problem in m for m in warnings)


def test_extra_field_in_every_row_is_not_ingested_shifted(config):
    """Rows with one more field than the header are malformed, not shifted into columns."""
    bad = config["input_folder_path"] / "bad.csv"
    bad.write_bytes(HEAD + b"abcd,10,200,3,0,1\nabce,20,300,4,1,0\nabcf,30,400,5,0,1\n")
    result = ingestion.run_ingestion(config)
    assert entry_for(result, "bad.csv")["status"] == "rejected"
    assert set(final_rows(config)["corporation"]) == {row[0] for row in small_rows(40)}


BAD_ROWS = [
    ("b001", -3, 100, 10, 0),
    ("b002", 10, 1.5, 10, 0),
    ("b003", 10, 100, "", 0),
    ("b004", 10, 100, 10, 2),
    ("b005", "many", 100, 10, 0),
]


def test_bad_rows_are_dropped_and_counted(config, caplog):
    """Bad rows in a good file are dropped, counted per reason, and logged."""
    path = write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(20, 40) + BAD_ROWS)
    with caplog.at_level(logging.INFO, logger="ingestion"):
        result = ingestion.run_ingestion(config)
    entry = entry_for(result, "dataset3.csv")
    assert entry["status"] == "ingested"
    assert (entry["rows_read"], entry["rows_kept"], entry["rows_rejected"]) == (25, 20, 5)
    assert entry["reasons"] == {
        "negative lastmonth_activity": 1,
        "non-integer lastyear_activity": 1,
        "missing number_of_employees": 1,
        "exited not 0 or 1": 1,
        "non-numeric lastmonth_activity": 1,
    }
    assert record(config)["files"][-1]["reasons"] == entry["reasons"]
    data = final_rows(config)
    assert len(data) == 60 and not data["corporation"].str.startswith("b").any()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(path) in m and "dropped 5 bad row" in m for m in messages)


def test_file_with_too_many_bad_rows_is_rejected_whole(workspace):
    """A file whose bad-row share exceeds ingestion.max_bad_row_share is rejected whole."""
    settings = json.loads((workspace / "config.json").read_text())
    settings["ingestion"] = {"max_bad_row_share": 0.2, "settle_seconds": 0}
    (workspace / "config.json").write_text(json.dumps(settings))
    config = load_config(workspace / "config.json")
    rows = small_rows(20, 40) + BAD_ROWS + BAD_ROWS[:1]  # 6 of 26 bad: 23% > 20%
    write_csv(config["input_folder_path"] / "dataset3.csv", rows)
    result = ingestion.run_ingestion(config)
    entry = entry_for(result, "dataset3.csv")
    assert (entry["status"], entry["rows_rejected"], entry["rows_new"]) == ("rejected", 6, 0)
    assert "23% of rows invalid" in entry["error"]
    assert len(final_rows(config)) == 40


def test_rejected_file_not_retried_but_fixed_version_is(config):
    """A rejected file is skipped while unchanged; its fixed version is ingested."""
    bad = config["input_folder_path"] / "dataset3.csv"
    bad.write_bytes(b"corporation,exited\nabcd,1\n")
    assert entry_for(ingestion.run_ingestion(config), "dataset3.csv")["status"] == "rejected"
    before = snapshot(config)
    again = ingestion.run_ingestion(config)
    assert again.files == [] and bad in again.skipped
    assert snapshot(config) == before
    write_csv(bad, small_rows(10, 40))
    entry = entry_for(ingestion.run_ingestion(config), "dataset3.csv")
    assert (entry["status"], entry["rows_new"]) == ("ingested", 10)
    assert output(config, INGESTED_FILES).read_text().splitlines()[-1] == "dataset3.csv"


def test_finaldata_kept_when_all_new_files_are_bad(config):
    """A run whose new files are all bad leaves finaldata.csv byte for byte."""
    ingestion.run_ingestion(config)
    before = output(config).read_bytes()
    (config["input_folder_path"] / "dataset3.csv").write_bytes(b"")
    (config["input_folder_path"] / "dataset4.csv").write_bytes(HEAD + numbers("lots"))
    result = ingestion.run_ingestion(config)
    assert result.ingested == [] and len(result.rejected) == 2
    assert output(config).read_bytes() == before


def test_five_row_dataset_is_ingested(config):
    """A dataset as small as the original course files (5 rows) ingests fine."""
    for path in config["input_folder_path"].glob("*.csv"):
        path.unlink()
    write_csv(config["input_folder_path"] / "dataset1.csv", small_rows(5))
    entry = entry_for(ingestion.run_ingestion(config), "dataset1.csv")
    assert (entry["status"], entry["rows_new"]) == ("ingested", 5)
    assert len(final_rows(config)) == 5


def test_no_temp_files_left_in_output_folder(config):
    """After runs, the output folder holds exactly the three output files."""
    ingestion.run_ingestion(config)
    write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(5, 40))
    ingestion.run_ingestion(config)
    assert sorted(os.listdir(config["output_folder_path"])) == sorted([*OUTPUTS, "store.db"])


# --- command line ------------------------------------------------------------------------


def problem_lines(stderr: str) -> list[str]:
    """The WARNING and ERROR log lines of a script's stderr."""
    return [line for line in stderr.splitlines() if " WARNING " in line or " ERROR " in line]


def test_cli_resolves_paths_against_config(workspace, tmp_path_factory):
    """Run from another folder, the script writes into the config's workspace."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    proc = run_script("ingestion.py", "--config", str(workspace / "config.json"), cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert len((workspace / "ingesteddata" / FINALDATA).read_text().splitlines()) == 41
    assert os.listdir(elsewhere) == []
    assert "Traceback" not in proc.stderr


def test_cli_only_bad_new_files_exits_1(config, workspace, tmp_path_factory):
    """Only bad new files: exit 1, one problem line naming the file, no traceback."""
    ingestion.run_ingestion(config)
    bad = write_csv(workspace / "practicedata" / "dataset3.csv", [("abcd", 1)], "corporation,x")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    proc = run_script("ingestion.py", "--config", str(workspace / "config.json"), cwd=elsewhere)
    assert proc.returncode == 1
    naming = [line for line in problem_lines(proc.stderr) if str(bad) in line]
    assert len(naming) == 1 and "missing column" in naming[0]
    assert "Traceback" not in proc.stderr


def test_cli_unknown_config_key_exits_1(workspace):
    """A config with an unknown key: exit 1, one line naming the key, no traceback."""
    settings = json.loads((workspace / "config.json").read_text())
    settings["input_folder"] = "practicedata"
    (workspace / "config.json").write_text(json.dumps(settings))
    proc = run_script("ingestion.py", "--config", str(workspace / "config.json"), cwd=workspace)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "input_folder" in lines[0] and " ERROR " in lines[0]
    assert "Traceback" not in proc.stderr


def test_cli_missing_input_folder_exits_1(workspace):
    """A missing input folder: exit 1 with a line naming the folder."""
    shutil.rmtree(workspace / "practicedata")
    proc = run_script("ingestion.py", "--config", str(workspace / "config.json"), cwd=workspace)
    assert proc.returncode == 1
    assert [line for line in problem_lines(proc.stderr) if str(workspace / "practicedata") in line]
    assert "Traceback" not in proc.stderr


def test_unwritable_output_is_one_line_without_traceback(workspace):
    """An output folder that is really a file: one error line naming it, exit 1."""
    (workspace / "ingesteddata").write_text("not a folder")
    done = run_script("ingestion.py", "--config", str(workspace / "config.json"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [ln for ln in done.stderr.splitlines() if " ERROR " in ln]
    assert len(errors) == 1 and "ingesteddata" in errors[0]


def test_unchanged_files_are_not_hashed_again(config):
    """A recorded file with the same path, size and mtime is known without reading it;
    the same edit with a new mtime is new data."""
    import os

    from risk_assessment.sources.scan import scan_input
    from risk_assessment.store import records as store

    def find_new_files(folder, known):
        return [path for path, _ in scan_input(folder, *known).new]

    ingestion.run_ingestion(config)
    path = config["input_folder_path"] / "dataset1.csv"
    stat = path.stat()
    text = path.read_text()
    path.write_text(text.replace("c000", "z000"))  # same size, other content
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    record = store.known_files(config["output_folder_path"])
    assert find_new_files(config["input_folder_path"], record) == []  # not even read
    os.utime(path)  # now it looks changed: hashed, and its content is new
    assert find_new_files(config["input_folder_path"], record) == [path]


def test_file_still_being_written_is_left_for_the_next_run(config, caplog):
    """A file that changes while ingestion waits for it to settle is left for the next
    run (one log line); a fresh file that stays still is ingested after the wait."""
    import threading
    import time

    config["ingestion"]["settle_seconds"] = 1.0
    growing = config["input_folder_path"] / "growing.csv"
    write_csv(growing, small_rows(10, 300))
    still = write_csv(config["input_folder_path"] / "still.csv", small_rows(10, 400))

    def append_soon() -> None:
        time.sleep(0.3)
        with open(growing, "a", encoding="utf-8") as fh:
            fh.write("c999,1,")  # half a row: the writer is not done yet

    writer = threading.Thread(target=append_soon)
    writer.start()
    with caplog.at_level(logging.INFO, logger="ingestion"):
        result = ingestion.run_ingestion(config)
    writer.join()
    assert growing in result.settling and still not in result.settling
    names = {f.entry["name"] for f in result.ingested}
    assert "still.csv" in names and "growing.csv" not in names
    assert any("growing.csv" in m and "next run" in m for m in caplog.messages)
    with open(growing, "a", encoding="utf-8") as fh:
        fh.write("5,20,0\n")  # the writer finishes
    os.utime(growing, (time.time() - 5, time.time() - 5))
    again = ingestion.run_ingestion(config)
    assert [f.entry["name"] for f in again.ingested] == ["growing.csv"]
    assert again.ingested[0].entry["rows_kept"] == 11
