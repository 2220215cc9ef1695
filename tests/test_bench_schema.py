"""benchmarks/bench_schema.py: the schema benchmark's generator and its table, end to end."""

from __future__ import annotations

import bench_schema
import pytest

from tests.conftest import run_script


def test_generated_rows_follow_the_schema_but_the_spoiled_ones():
    """Deterministic; validate() (the package's one path) keeps every row but the spoiled
    share, typed (counts as integers)."""
    frame = bench_schema.generate(3000, seed=5)
    assert frame.equals(bench_schema.generate(3000, seed=5))
    raw = frame.astype(str)
    clean, bad = bench_schema.validate(raw, bench_schema.SCHEMA)
    assert bad == int(3000 * bench_schema.BAD_SHARE) and len(clean) == 3000 - bad
    assert set(clean["churned"]) == {0, 1} and clean["count_1"].dtype.kind == "i"
    assert [f.type for f in bench_schema.SCHEMA.features].count("category") == 5


@pytest.mark.slow
def test_the_benchmark_prints_its_table_on_a_small_run():
    """--rows 2000: exit 0, one line per stage with its numbers, then the total."""
    done = run_script("benchmarks/bench_schema.py", "--rows", "2000")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "stage",
        "rows",
        "seconds",
        "cpu",
        "s",
        "child",
        "s",
        "rows/s",
        "stage",
        "MB",
        "peak",
        "MB",
    ]
    stages = ["generate", "write", "read", "store", "train", "score", "batch", "profile"]
    assert [line.split()[0] for line in lines[1:10]] == [*stages, "drift"]
    assert lines[10].startswith("read+store+train+score: ") and "bad rows 2;" in lines[10]
