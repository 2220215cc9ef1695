"""A client generator whose true exit probability is known, for the monitoring benchmark.

Independent of generate_data.py on purpose: the benchmark must not test the model on the
very generator it was tuned on. Counts are log-normal (heavy-tailed), the true logit is
linear in the standardized log counts, and each regime changes one thing:

    base        the reference world
    concept     different coefficients: what predicts an exit changes (concept drift)
    covariate   the counts move (bigger, busier clients), P(exit | counts) unchanged
    exit_rate   the intercept rises (about twice the exits), same relationship
    mild        coefficients nudged: a small concept drift

Run:  .venv/bin/python benchmarks/simulate.py [--regime base] [--rows 5]   (prints rows)
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["lastmonth_activity", "lastyear_activity", "number_of_employees"]
# Standardization of log1p(count) used by every regime's true logit (base-regime moments).
LOG_CENTER = np.array([4.2, 6.6, 3.2])
LOG_SCALE = np.array([1.25, 1.1, 1.0])

BASE: dict[str, Any] = {
    "log_employees": (3.2, 1.0),  # mean, sd of log(number_of_employees)
    "log_lastyear": (6.6, 1.1),  # mean, sd of log(lastyear_activity)
    "month_sigma": 0.6,  # sd of log(lastmonth) around log(lastyear / 12)
    "intercept": -1.5,
    "coef": (-2.6, 0.9, -1.0),  # lastmonth, lastyear, employees (standardized log1p)
}
REGIMES: dict[str, dict[str, Any]] = {
    "base": BASE,
    "concept": {**BASE, "intercept": -1.2, "coef": (0.6, -2.2, 2.0)},
    "covariate": {**BASE, "log_employees": (3.9, 1.0), "log_lastyear": (7.3, 1.1)},
    "exit_rate": {**BASE, "intercept": -0.6},
    "mild": {**BASE, "coef": (-2.1, 0.5, -0.5)},
}


def sample_counts(regime: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """n rows of (lastmonth, lastyear, employees) integer counts, log-normal."""
    log_ly = rng.normal(*regime["log_lastyear"], n)
    log_lm = log_ly - np.log(12) + rng.normal(0, regime["month_sigma"], n)
    log_emp = rng.normal(*regime["log_employees"], n)
    counts = np.round(np.exp(np.column_stack([log_lm, log_ly, log_emp])))
    counts[:, 2] = np.maximum(counts[:, 2], 1)  # a client has at least one employee
    return counts.astype(np.int64)


def true_probability(regime: dict[str, Any], counts: np.ndarray) -> np.ndarray:
    """P(exited = 1 | counts) in the regime: the answer the model should learn."""
    z = (np.log1p(counts) - LOG_CENTER) / LOG_SCALE
    return 1 / (1 + np.exp(-(regime["intercept"] + z @ np.asarray(regime["coef"]))))


def sample(name: str, n: int, seed: int, prefix: str = "c") -> tuple[pd.DataFrame, np.ndarray]:
    """(frame in the project's schema, true probabilities) of n clients of a regime."""
    regime = REGIMES[name]
    rng = np.random.default_rng(seed)
    counts = sample_counts(regime, n, rng)
    p = true_probability(regime, counts)
    frame = pd.DataFrame(counts, columns=FEATURES)
    frame.insert(0, "corporation", [f"{prefix}{i:06d}" for i in range(n)])
    frame["exited"] = (rng.random(n) < p).astype(int)
    return frame, p


def main() -> None:
    """Print a few rows and the exit rate of a regime."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regime", default="base", choices=sorted(REGIMES))
    parser.add_argument("--rows", type=int, default=5)
    args = parser.parse_args()
    frame, p = sample(args.regime, max(args.rows, 1), seed=0)
    print(frame.to_string(index=False))
    print(f"exit rate {frame['exited'].mean():.3f}, mean true probability {p.mean():.3f}")


if __name__ == "__main__":
    main()
