"""The logic under generate_data.py: the course's deterministic sample data.

What it reads and writes, and the command: the docstring of generate_data.py.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import string
from contextlib import closing
from pathlib import Path

import numpy as np

from risk_assessment.core.columns import DEFAULT_SCHEMA

SEED = 20261122
# (folder, file, rows, regime). About 10,000 clients in all, the company's size.
SHIPPED = [
    ("practicedata", "dataset1.csv", 2500, "practice"),
    ("practicedata", "dataset2.csv", 2500, "practice"),
    ("sourcedata", "dataset3.csv", 2000, "source"),
    ("sourcedata", "dataset4.csv", 2000, "source"),
    ("testdata", "testdata.csv", 1000, "mixed"),
]
# Exact copies of dataset1 rows inside dataset2: ingestion must drop them.
DUPLICATES_IN_DATASET2 = 40
# Current clients: newer observations of practice clients who have not exited, whose
# outcome is not known yet (an empty `exited`). Named to sort after dataset1/2, so that
# with equal modification times (a fresh clone) they arrive last.
CURRENT_FILE = ("practicedata", "dataset_current.csv", 1000)

# Each regime: means of log features and the logistic link from standardized log
# features to exiting. The source regime shifts the features (bigger, busier clients)
# and changes how they relate to exiting (employees and yearly activity matter more).
REGIMES = {
    "practice": {
        "log_employees": (3.0, 1.1),
        "log_lastyear": (6.5, 1.2),
        "month_ratio_sigma": 0.5,
        "intercept": -2.0,
        "coef": (-3.5, 1.0, -0.8),  # lastmonth, lastyear, employees
    },
    "source": {
        "log_employees": (3.6, 1.1),
        "log_lastyear": (7.0, 1.2),
        "month_ratio_sigma": 0.7,
        "intercept": -0.6,
        "coef": (-0.8, -2.0, 2.4),
    },
}
# Standardization of log features is fixed (practice regime), so the coefficients
# mean the same in both regimes and the feature shift moves the exit rate too.
LOG_CENTER = np.array([6.5 - np.log(12), 6.5, 3.0])
LOG_SCALE = np.array([1.3, 1.2, 1.1])


def corporation_ids(n: int, rng: np.random.Generator) -> list[str]:
    """n distinct ids of 4 lowercase letters."""
    letters = np.array(list(string.ascii_lowercase))
    codes = rng.choice(26**4, size=n, replace=False)
    digits = np.stack([(codes // 26**p) % 26 for p in range(3, -1, -1)], axis=1)
    return ["".join(row) for row in letters[digits]]


def client_rows(n: int, regime: str, rng: np.random.Generator) -> np.ndarray:
    """n rows of (lastmonth, lastyear, employees, exited) drawn from a regime."""
    r = REGIMES[regime]
    employees = np.floor(rng.lognormal(*r["log_employees"], size=n)).astype(np.int64)
    lastyear = np.floor(rng.lognormal(*r["log_lastyear"], size=n)).astype(np.int64)
    ratio = rng.lognormal(0.0, r["month_ratio_sigma"], size=n)
    lastmonth = rng.poisson(lastyear / 12.0 * ratio).astype(np.int64)
    logs = np.log1p(np.stack([lastmonth, lastyear, employees], axis=1))
    z = (logs - LOG_CENTER) / LOG_SCALE
    logit = r["intercept"] + z @ np.array(r["coef"])
    exited = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return np.stack([lastmonth, lastyear, employees, exited], axis=1)


def rows_for(n: int, regime: str, rng: np.random.Generator) -> np.ndarray:
    """Rows of one regime, or half practice and half source shuffled for 'mixed'."""
    if regime != "mixed":
        return client_rows(n, regime, rng)
    half = n // 2
    old, new = client_rows(half, "practice", rng), client_rows(n - half, "source", rng)
    both = np.concatenate([old, new])
    return both[rng.permutation(n)]


def to_csv(ids: list[str], rows: np.ndarray) -> str:
    """CSV text with the schema's header, LF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(DEFAULT_SCHEMA.columns)
    for cid, row in zip(ids, rows.tolist(), strict=True):
        writer.writerow([cid, *row])
    return buf.getvalue()


def shipped_files(seed: int = SEED) -> dict[str, str]:
    """Relative path -> CSV text of every shipped file."""
    rng = np.random.default_rng(seed)
    ids = corporation_ids(sum(n for _, _, n, _ in SHIPPED), rng)
    out, start, dataset1 = {}, 0, None
    for folder, name, n, regime in SHIPPED:
        rows = rows_for(n, regime, rng)
        file_ids = ids[start : start + n]
        start += n
        if name == "dataset1.csv":
            dataset1 = (file_ids, rows)
        elif name == "dataset2.csv":
            k = DUPLICATES_IN_DATASET2
            file_ids = file_ids[:-k] + dataset1[0][:k]
            rows = np.concatenate([rows[:-k], dataset1[1][:k]])
        out[f"{folder}/{name}"] = to_csv(file_ids, rows)
    folder, name, n = CURRENT_FILE
    out[f"{folder}/{name}"] = current_clients(out, n, np.random.default_rng(seed + 2))
    return out


def current_clients(files: dict[str, str], n: int, rng: np.random.Generator) -> str:
    """CSV text of n practice clients still with the company, re-observed: fresh activity
    drawn from the practice regime, `exited` empty (a separate generator, so the other
    files stay as they were)."""
    rows = [r for rel in ("practicedata/dataset1.csv", "practicedata/dataset2.csv")
            for r in list(csv.reader(io.StringIO(files[rel])))[1:] if r[-1] == "0"]  # fmt: skip
    ids = sorted({r[0] for r in rows})
    chosen = [ids[i] for i in sorted(rng.choice(len(ids), size=n, replace=False))]
    features = client_rows(n, "practice", rng)[:, :3]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(DEFAULT_SCHEMA.columns)
    for cid, row in zip(chosen, features.tolist(), strict=True):
        writer.writerow([cid, *row, ""])
    return buf.getvalue()


def large_file(n: int, seed: int = SEED) -> str:
    """CSV text of n rows of the source regime (ids may repeat beyond 456,976 rows)."""
    rng = np.random.default_rng(seed + 1)
    unique = min(n, 26**4)
    ids = corporation_ids(unique, rng)
    ids = [ids[i % unique] for i in range(n)]
    return to_csv(ids, client_rows(n, "source", rng))


DB_TABLE = "client_activity"


def load_sqlite(path: Path, text: str, table: str = DB_TABLE) -> int:
    """Append the rows of CSV text to a SQLite table (created with an increasing id)."""
    rows = list(csv.reader(io.StringIO(text)))[1:]
    with closing(sqlite3.connect(path)) as db, db:
        first, *numbers = DEFAULT_SCHEMA.columns  # the id is text, the rest integers
        typed = ", ".join([f"{first} TEXT", *(f"{c} INTEGER" for c in numbers)])
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY AUTOINCREMENT, {typed})"
        )
        marks = ", ".join("?" * len(DEFAULT_SCHEMA.columns))
        names = ", ".join(DEFAULT_SCHEMA.columns)
        db.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    return len(rows)
