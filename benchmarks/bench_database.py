"""Benchmark: ingesting a large SQLite table in chunks; time and peak memory.

Run:  .venv/bin/python benchmarks/bench_database.py [--rows 1000000] [--chunk 50000]
Builds the table in a child process (so its memory does not count), then reads it here
and prints seconds, rows/s and peak resident memory for each chunk size asked.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from risk_assessment.core.settings import DEFAULTS  # noqa: E402
from risk_assessment.sources import ingestion  # noqa: E402


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Build a table of --rows rows, then read it in chunks of --chunk rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "clients.db"
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "generate_data.py"),
                "--sqlite",
                str(db),
                "--rows",
                str(args.rows),
            ],
            check=True,
            capture_output=True,
        )
        print(f"built table of {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
        settings = {
            **DEFAULTS["input_database"],
            "url": f"sqlite:///{db}",
            "chunk_rows": args.chunk,
        }
        before = peak_mb()
        start = time.perf_counter()
        # An empty output folder holds no watermark: every row of the table is new.
        batch, _ = ingestion.read_database(settings, Path(tmp) / "output")
        seconds = time.perf_counter() - start
        rows = batch.entry["rows_read"]
        print(
            f"read+validate {rows:,} rows in chunks of {args.chunk:,}: {seconds:.2f} s "
            f"({rows / seconds:,.0f} rows/s); peak {peak_mb():.0f} MB "
            f"(was {before:.0f} MB before reading; the kept rows alone take "
            f"{batch.data.memory_usage(deep=True).sum() / 2**20:.0f} MB)"
        )


if __name__ == "__main__":
    main()
