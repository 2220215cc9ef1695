"""Benchmark: a user's schema at scale: 1,000,000 rows x 20 features (5 categorical).

In a temporary installation: generates the rows (8 integer, 7 decimal, 5 category
features, a text id, yes/no labels; 0.1% of the rows with one bad cell), writes them as
one CSV file in the input folder, then times the package's own path, as ingestion.py,
training.py and scoring.py run it:
- read:     ingestion's reading of the new file: parse every cell as text, validate it
            by the schema (the one validation path of files, database rows and the API);
- store:    committing the rows to store.db (typed columns, exact repeats flagged) and
            writing finaldata.csv from the store;
- train:    training.py's work: finaldata.csv read back (the store's own export, its
            sha256 checked, typed by the parser; an edited one would go through every
            rule), the transform and cut-off chosen by cross-validation on at most
            50,000 rows, the Pipeline(ColumnTransformer, LogisticRegression) fitted on
            every row (sparse input: one-hot categories), its training profile, saved
            and signed;
- score:    P(exit) of every training row with the saved model;
- batch:    parse + validate + score of a 10,000-row file (the API-sized batch);
- profile:  the training data's profile by feature type (monitoring/typed_drift.py);
- drift:    a 10,000-row batch against that profile, by feature type.
Each line: wall and CPU seconds (this process's, and its forked children's: the store's
export text and training's profiles), rows/s, the stage's peak resident memory (Linux:
VmHWM reset before the stage; elsewhere getrusage's peak so far) and the peak of all
stages; the last line also the largest child's peak (pages shared with this process
counted, so an upper bound of what it added).
The issue's targets: read, store, train and score of 1,000,000 x 20 in at most 15 s,
peak memory at most 2 GB, a 10,000-row batch in under 1 s.
The libraries (pandas, scikit-learn, skops) are imported before the first stage: their
import is a fixed cost of a fresh Python, whatever the rows (skops alone takes about
1 s, listing every scikit-learn type; benchmarks/bench_cycle.py measures imports).
Until December 2026 skops' import was timed inside the train stage.

Run:  .venv/bin/python benchmarks/bench_schema.py [--rows 1000000]
Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io  # noqa: F401 (imported up front, as pandas and scikit-learn are: see main)
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from risk_assessment.core.common import FINALDATA  # noqa: E402

from risk_assessment.core.columns import ColumnSchema, parse_schema  # noqa: E402
from risk_assessment.core.settings import load_config  # noqa: E402
from risk_assessment.modelling import scoring, training  # noqa: E402
from risk_assessment.monitoring.typed_drift import drift_by_type, profile_by_type  # noqa: E402
from risk_assessment.schema import dataset  # noqa: E402
from risk_assessment.sources import ingestion  # noqa: E402

INTEGERS, NUMBERS = 8, 7
LEVELS = [3, 5, 8, 12, 30]  # levels of the 5 category features
BATCH_ROWS = 10_000
BAD_SHARE = 0.001  # rows with one bad cell
STAGES = ("read", "store", "train", "score")  # the four, through the package
BAD_CELLS = [("count_0", "12.5"), ("amount_0", "n/a"), ("group_0", "zz")]
SCHEMA = parse_schema(
    {
        "id": "client",
        "target": {"column": "churned", "positive": "yes", "negative": "no"},
        "features": {
            **{f"count_{i}": {"type": "integer", "min": 0} for i in range(INTEGERS)},
            **{f"amount_{i}": {"type": "number", "min": -1e6, "max": 1e6} for i in range(NUMBERS)},
            **{
                f"group_{i}": {"type": "category", "levels": [f"g{k:02d}" for k in range(n)]}
                for i, n in enumerate(LEVELS)
            },
        },
    }
)


def generate(rows: int, seed: int = 0) -> pd.DataFrame:
    """rows clients under SCHEMA: counts, decimals, groups, and yes/no from a logistic link."""
    rng = np.random.default_rng(seed)
    data = {"client": [f"c{i:08d}" for i in range(rows)]}
    logit = np.full(rows, -1.2)
    for i in range(INTEGERS):
        data[f"count_{i}"] = rng.poisson(3 + 4 * i, rows)
        logit += 0.05 * (data[f"count_{i}"] - (3 + 4 * i)) * (-1) ** i
    for i in range(NUMBERS):
        data[f"amount_{i}"] = np.round(rng.normal(0, 10 + i, rows), 2)
        logit += 0.03 * data[f"amount_{i}"] / (1 + i)
    for i, n in enumerate(LEVELS):
        codes = rng.integers(0, n, rows)
        data[f"group_{i}"] = np.array([f"g{k:02d}" for k in range(n)])[codes]
        logit += np.linspace(-0.5, 0.5, n)[codes]
    exits = rng.random(rows) < 1 / (1 + np.exp(-logit))
    data["churned"] = np.where(exits, "yes", "no")
    return spoil(pd.DataFrame(data), rng)


def spoil(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """BAD_SHARE of the rows get one bad cell, as real exports do: a decimal in a count,
    text in a number, a level outside the declared ones (the rows validate() drops)."""
    rows = rng.choice(len(frame), size=int(len(frame) * BAD_SHARE), replace=False)
    for k, (column, text) in enumerate(BAD_CELLS):
        frame[column] = frame[column].astype(object)
        frame.loc[rows[k :: len(BAD_CELLS)], column] = text
    return frame


def validate(raw: pd.DataFrame, schema: ColumnSchema) -> tuple[pd.DataFrame, int]:
    """(valid rows with typed columns, number of bad rows): the package's one validation
    path (schema/dataset.py's clean_rows, the rules of schema/cells.py), as ingestion and
    the API use it."""
    clean, reasons = dataset.clean_rows(raw, schema)
    return clean, sum(reasons.values())


def reset_peak() -> bool:
    """Reset this process's peak resident memory (Linux); False where it cannot be."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def stage_peak_mb(resettable: bool) -> float:
    """Peak resident memory since the last reset (VmHWM), else the process's peak."""
    if resettable:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return process_peak_mb()


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the store's export text and
    training's profiles are made by forked children: store/fresh_text.py, core/forked.py)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def children_peak_mb() -> float:
    """The largest peak resident memory of a finished child, in MB. It counts the pages
    the child shares with this process (inherited, not copied), so it is an upper bound
    of what the child added."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def process_peak_mb() -> float:
    """Peak resident memory of this process since start or the last reset, in MB (Linux
    reports KB; resetting VmHWM resets this too, so Table keeps the maximum itself)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Table:
    """Timed stages printed as rows of a table, kept for the total."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []
        self.peak = 0.0
        head = ("stage", "rows", "seconds", "cpu s", "child s", "rows/s", "stage MB", "peak MB")
        print("{:10} {:>10} {:>8} {:>7} {:>7} {:>11} {:>9} {:>8}".format(*head))

    def time(self, label: str, rows: int, fn, *args):
        """Run fn(*args) as a stage: print its wall and CPU seconds (the CPU time says how
        much of the wall time was this process's own work on a shared machine), rows/s and
        memory; return its result."""
        resettable = reset_peak()
        start, cpu, kids = time.perf_counter(), time.process_time(), children_cpu()
        result = fn(*args)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        kids = children_cpu() - kids
        self.rows.append((label, seconds))
        stage = stage_peak_mb(resettable)
        self.peak = max(self.peak, stage)
        print(
            f"{label:10} {rows:>10,} {seconds:>8.2f} {cpu:>7.2f} {kids:>7.2f} "
            f"{rows / max(seconds, 1e-9):>11,.0f} {stage:>9,.0f} {self.peak:>8,.0f}",
            flush=True,
        )
        return result

    def total(self, labels: tuple[str, ...]) -> float:
        """Seconds of the named stages together."""
        return sum(s for label, s in self.rows if label in labels)


def write(frame: pd.DataFrame, path: Path) -> None:
    """The rows as a CSV file, as a user's export would be (old enough to be settled)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    os.utime(path, (time.time() - 3600, time.time() - 3600))


def read(path: Path) -> pd.DataFrame:
    """A file's cells as stripped text, through the dataset module's CSV parser."""
    return dataset.parse_csv(path.read_bytes(), path.name, SCHEMA)


def installation(root: Path) -> dict:
    """A config of SCHEMA in root (folders in, out, models, prod), loaded as the scripts
    load it."""
    config = {
        "input_folder_path": "in",
        "output_folder_path": "out",
        "test_data_path": "test",
        "output_model_path": "models",
        "prod_deployment_path": "prod",
        "schema": SCHEMA.to_dict(),
    }
    (root / "config.json").write_text(json.dumps(config))
    return load_config(root / "config.json")


def run_batch(path: Path, model) -> np.ndarray:
    """Parse, validate and score one file: the work of an API-sized batch."""
    clean, _ = validate(read(path), SCHEMA)
    return scoring.exit_probabilities(model, clean, SCHEMA)


def stages(table: Table, root: Path, rows: int) -> tuple[pd.DataFrame, np.ndarray, int]:
    """The package's path on the file in root/in: read, store, train, score; returns the
    training set, its P(exit) and the count of bad rows."""
    config = installation(root)
    result = table.time("read", rows, ingestion.ingest_configured, config)
    table.time("store", rows, ingestion.save_ingestion, config["output_folder_path"], result)
    bad = sum(f.entry["rows_rejected"] for f in result.sources)
    del result
    table.time("train", rows - bad, training.run_training, config)
    data = dataset.load_dataset(config["output_folder_path"] / FINALDATA, SCHEMA)
    model, _ = scoring.load_trained_model(config["output_model_path"])
    p = table.time("score", len(data), scoring.exit_probabilities, model, data, SCHEMA)
    return data, p, bad


def main() -> None:
    """Generate and write --rows rows, then time the package's path in a temp folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the scripts' log lines would break the table
    table = Table()
    with tempfile.TemporaryDirectory() as tmp:
        root, batch = Path(tmp), Path(tmp) / "batch.csv"
        frame = table.time("generate", args.rows, generate, args.rows)
        table.time("write csv", args.rows, write, frame, root / "in" / "clients.csv")
        write(frame.head(BATCH_ROWS), batch)
        del frame
        data, p, bad = stages(table, root, args.rows)
        model, _ = scoring.load_trained_model(root / "models")
        table.time("batch", min(args.rows, BATCH_ROWS), run_batch, batch, model)
        X = data[SCHEMA.feature_names]
        profile = table.time("profile", len(X), profile_by_type, X, SCHEMA)
        sample = X.sample(min(len(X), BATCH_ROWS), random_state=0)
        table.time("drift", len(sample), drift_by_type, profile, sample, SCHEMA)
    y = data[SCHEMA.target.column].to_numpy()
    print(
        f"read+store+train+score: {table.total(STAGES):.2f} s for {args.rows:,} rows x "
        f"{len(SCHEMA.features)} features; bad rows {bad}; F1 at 0.5 {f1_score(y, p >= 0.5):.3f}; "
        f"peak {table.peak:,.0f} MB; children's peak {children_peak_mb():,.0f} MB (shared pages "
        "counted)"
    )


if __name__ == "__main__":
    main()
