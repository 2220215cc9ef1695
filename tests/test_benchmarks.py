"""benchmarks/: the simulation's generator is what it claims; the harness runs end to end."""

from __future__ import annotations

import numpy as np
import pytest
import simulate

from risk_assessment.schema import dataset
from tests.conftest import (
    COLUMNS,  # the default schema's columns
    ROOT,
    run_script,
)


def test_simulated_rows_pass_ingestion_and_follow_their_true_probability(tmp_path):
    """Valid, deterministic rows; the exit rate matches the mean true probability."""
    frame, p = simulate.sample("base", 20000, seed=3)
    again, _ = simulate.sample("base", 20000, seed=3)
    assert frame.equals(again) and list(frame.columns) == COLUMNS
    path = tmp_path / "batch.csv"
    frame.to_csv(path, index=False)
    assert len(dataset.load_dataset(path)) == 20000
    assert abs(frame["exited"].mean() - p.mean()) < 0.01
    assert (frame[simulate.FEATURES] >= 0).all().all()


def test_regimes_change_what_they_say():
    """Covariate shift moves the counts only; concept drift changes P(exit | counts)."""
    base, p_base = simulate.sample("base", 5000, seed=4)
    moved, _ = simulate.sample("covariate", 5000, seed=4)
    counts = base[simulate.FEATURES].to_numpy()
    assert moved["lastyear_activity"].median() > 1.5 * base["lastyear_activity"].median()
    same = simulate.true_probability(simulate.REGIMES["covariate"], counts)
    np.testing.assert_allclose(same, p_base)
    other = simulate.true_probability(simulate.REGIMES["concept"], counts)
    assert abs(np.corrcoef(other, p_base)[0, 1]) < 0.1  # the old ranking says nothing


@pytest.mark.slow
def test_monitoring_benchmark_runs_through_fullprocess():
    """--quick prints the table for the chosen cells, from real fullprocess runs."""
    done = run_script("benchmarks/bench_monitoring.py", "--quick", "--cells", "base", "concept")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:5] == ["regime", "rows", "n", "retrain", "deployed"]
    assert [line.split()[0] for line in lines[2:4]] == ["base", "concept"]


@pytest.mark.slow
def test_database_benchmark_reads_a_small_table():
    """A tiny table is built and read in chunks: exit 0, one line per step with its numbers."""
    done = run_script("benchmarks/bench_database.py", "--rows", "300", "--chunk", "100")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("built table of 300 rows in ")
    assert lines[1].startswith("read+validate 300 rows in chunks of 100: ")
    assert "rows/s" in lines[1] and "peak" in lines[1]


@pytest.mark.slow
def test_cycle_benchmark_compares_the_saas_example_with_the_course_data():
    """--example saas: one table, a column per data set, from real cold fullprocess runs
    (seconds for each); the probe's rows are there; nothing is written into the checkout."""
    before = sorted(p.name for p in (ROOT / "examples" / "saas").iterdir())
    done = run_script("benchmarks/bench_cycle.py", "--example", "saas", "--ticks", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].split() == ["course", "data", "saas", "example"]
    assert [line[:34].strip() for line in lines[2:8]] == [
        "first run (deploy)",
        "full cycle on the new batch",
        "tick with nothing new, median",
        "fastest - slowest",
        "imports beyond the std. library",
        "store.db openings",
    ]
    for line in lines[2:5]:
        assert line.count(" s") == 2 and line.split()[-1] == "s", line
    assert sorted(p.name for p in (ROOT / "examples" / "saas").iterdir()) == before
