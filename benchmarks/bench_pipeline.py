"""Benchmark: ingestion, training and scoring time and peak memory on a large generated file.

Run:  .venv/bin/python benchmarks/bench_pipeline.py [--rows 1000000]
Prints seconds, rows per second and peak resident memory; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from risk_assessment.core.common import write_atomic  # noqa: E402

from risk_assessment.core.settings import DEFAULTS  # noqa: E402
from risk_assessment.modelling import (
    scoring,  # noqa: E402
    training,  # noqa: E402
)
from risk_assessment.samples import course as generate_data  # noqa: E402
from risk_assessment.schema import dataset  # noqa: E402
from risk_assessment.sources import ingestion  # noqa: E402


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, rows: int, fn):
    """Run fn, print its seconds, rows/s and the peak memory; return its result."""
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(
        f"{label:10} {rows:>9,} rows  {seconds:8.2f} s  {rows / seconds:>12,.0f} rows/s  "
        f"peak {peak_mb():7.0f} MB"
    )
    return result


def main() -> None:
    """Generate, ingest, train and score on --rows rows in a temp folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        text = timed("generate", args.rows, lambda: generate_data.large_file(args.rows))
        write_atomic(root / "in" / "big.csv", text)
        del text
        result = timed("validate", args.rows, lambda: ingestion.ingest(root / "in", root / "out"))
        timed("store", args.rows, lambda: ingestion.save_ingestion(root / "out", result))
        data = dataset.load_dataset(root / "out" / "finaldata.csv")
        params = {**DEFAULTS["training"], "min_rows": 1}
        model, _ = timed("train", len(data), lambda: training.train_model(data, params))
        timed("score", len(data), lambda: scoring.score_model(model, data))


if __name__ == "__main__":
    main()
