"""locking.py: the writer lock's wait (writer_lock) and what a killed writer left
(remove_stale_temps), seen through the scripts that take the lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from risk_assessment.core.common import LockError
from risk_assessment.core.locking import WriterLock, remove_stale_temps, writer_lock
from risk_assessment.pipeline import run as fullprocess
from tests.conftest import configure, hold_writer_lock, small_rows, write_csv
from tests.pipeline.test_trustworthy import age, by_source, cli


@pytest.fixture
def offline(workspace: Path) -> dict:
    """The small workspace, offline, files settled."""
    return configure(workspace)


def test_temp_files_left_by_a_killed_run_are_removed(offline):
    """A run killed inside an atomic write leaves a temp file (or a staging folder); the
    next run, holding the writer lock, removes what it finds (made an hour ago here)."""
    fullprocess.run_once(offline)
    left = [
        offline["output_folder_path"] / ".finaldata.csv.k1ll3d.tmp",
        offline["output_model_path"] / ".trainedmodel.pkl.k1ll3d.tmp",
        offline["prod_deployment_path"] / "versions" / ".staging-k1ll3d",
    ]
    for path in left[:2]:
        path.write_text("half of a file")
    left[2].mkdir()
    (left[2] / "trainedmodel.pkl").write_text("half")
    for path in left:
        age(path)
    write_csv(offline["input_folder_path"] / "dataset3.csv", small_rows(60, 200))
    fullprocess.run_once(offline)
    assert [p for p in left if p.exists()] == []


def test_hand_run_waits_for_a_short_job_then_works(workspace):
    """A hand run waits lock.wait_seconds: a job that finishes within it is waited for."""
    config = configure(workspace, lock={"wait_seconds": 30})
    holder = hold_writer_lock(config["output_folder_path"], "short-job", 1.5)
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = cli("ingestion.py", config)
    finally:
        holder.wait(timeout=60)
        holder.stdout.close()
    assert done.returncode == 0, done.stderr
    assert by_source(config) == {"dataset1.csv": 20, "dataset2.csv": 20}


# ---- locking.py's functions, in this process and one other -------------------------------


def test_a_second_holder_is_refused_and_told_who_holds_it(tmp_path):
    """While one process holds the lock, another cannot take it and reads the holder's
    line; once released, it can."""
    holder = hold_writer_lock(tmp_path, "cron-job", 60)
    try:
        assert holder.stdout.readline().strip() == "locked"
        lock = WriterLock(tmp_path, "hand-run")
        assert lock.acquire(0.3) is False
        assert lock.previous.startswith("cron-job pid ")
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    with WriterLock(tmp_path, "hand-run") as lock:  # the kernel dropped the dead holder's
        assert lock.acquire() is True
        assert (tmp_path / WriterLock.FILE).read_text().startswith("hand-run pid ")
    assert (tmp_path / WriterLock.FILE).read_text() == ""  # released: emptied


def test_writer_lock_names_the_holder_and_the_wait(config):
    """writer_lock raises LockError with the lock file, the holder and the wait."""
    config["lock"]["wait_seconds"] = 0.2
    with writer_lock(config, "first"), pytest.raises(LockError) as error:
        with writer_lock(config, "second"):
            pass
    assert "held by first pid" in str(error.value) and "waited 0.2 s" in str(error.value)
    with writer_lock(config, "third") as lock:  # released after the first block
        assert lock.fh is not None


def test_remove_stale_temps_takes_only_temps_and_staging_folders(config):
    """Temp files of write_atomic and deployment's staging folders go; real files stay."""
    out, prod = config["output_folder_path"], config["prod_deployment_path"]
    (prod / "versions" / ".staging-123").mkdir(parents=True)
    out.mkdir(parents=True, exist_ok=True)
    temp, real = out / ".finaldata.csv.abc.tmp", out / "finaldata.csv"
    temp.write_text("half")
    real.write_text("whole")
    gone = remove_stale_temps(config)
    assert sorted(p.name for p in gone) == [".finaldata.csv.abc.tmp", ".staging-123"]
    assert real.read_text() == "whole" and not temp.exists()
    assert not (prod / "versions" / ".staging-123").exists()
