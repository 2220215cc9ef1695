"""locking.py: the writer lock's wait (writer_lock) and what a killed writer left
(remove_stale_temps), seen through the scripts that take the lock."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import configure, hold_writer_lock, small_rows, write_csv
from test_trustworthy import age, by_source, cli

import fullprocess


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
