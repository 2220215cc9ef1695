"""Benchmark: the monitoring statistics alone, on the simulation's regimes, to set defaults.

Per trial a model is trained (training.train_model, the default settings) on 5,000 base
rows, as if deployed. For each regime and batch size a labelled batch arrives and is
judged by monitoring.py's functions:

    detect    paired log-loss test: deployed vs a refit cross-fitted on the batch
    calib     calibration test: observed vs predicted exits
    chi2      data drift by binned chi-square (Holm) against the training profile
    psi       today's data-drift rule (more than half the features with PSI > 0.25)
    gate      the paired holdout gate (30% of the batch held out) deploys a candidate
              trained on the other 70% ("recent")

and the served F1 on 20,000 fresh rows of the regime of: the deployed model, candidates
trained on the recent 70% alone, on all history + recent, and on all history with the
recent rows weighted to count as much as the history ("weighted"), beside the best
achievable F1 (the true probability at its F1-optimal cut-off).

Run:  .venv/bin/python benchmarks/bench_detection.py [--trials N] [--alpha A]
Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from risk_assessment.core.columns import DEFAULT_SCHEMA  # noqa: E402

FEATURES, TARGET = DEFAULT_SCHEMA.feature_names, DEFAULT_SCHEMA.target.column

import simulate  # noqa: E402

from risk_assessment.core.settings import DEFAULTS  # noqa: E402
from risk_assessment.modelling import training  # noqa: E402
from risk_assessment.monitoring import statistics as m  # noqa: E402
from risk_assessment.reports import diagnostics  # noqa: E402

HISTORY_ROWS = 5000
EVAL_ROWS = 20_000
SIZES = (200, 500, 2000)
REGIMES = ("base", "concept", "covariate", "exit_rate", "mild")
HOLDOUT = 0.3
PARAMS = DEFAULTS["training"]


def refit(X, y):
    """The detection test's refit: the production pipeline on log counts, cut-off aside."""
    return training.build_model(PARAMS, "log").fit(X, y)


def candidates(history: pd.DataFrame, recent: pd.DataFrame) -> dict:
    """Models trained on the recent rows, on all rows, and on all rows with recent upweighted."""
    both = pd.concat([history, recent], ignore_index=True)
    weights = np.r_[np.ones(len(history)), np.full(len(recent), len(history) / len(recent))]
    params = {**PARAMS, "min_rows": 2}
    return {
        "recent": training.train_model(recent, params)[0],
        "all": training.train_model(both, params)[0],
        "weighted": training.train_model(both, params, sample_weight=weights)[0],
    }


def judge_batch(deployed, profile, history, batch, alpha: float, seed: int, fresh) -> dict:
    """Every verdict on one batch, and the fresh-sample F1 of each model."""
    X, y = batch[FEATURES], batch[TARGET].to_numpy()
    p_dep = deployed.predict_proba(X)[:, 1]
    p_refit = m.cross_fitted_probabilities(X, y, refit, folds=5, seed=seed)
    rng = np.random.default_rng(seed)
    held = rng.random(len(batch)) < HOLDOUT
    models = candidates(history, batch[~held])
    recent = models["recent"]
    gate = m.paired_gate(
        y[held],
        recent.predict_proba(X[held])[:, 1],
        p_dep[held],
        recent.threshold,
        deployed.threshold,
        alpha,
        seed,
        n_boot=300,
    )
    frame, y_fresh = fresh
    out = {
        "detect": m.paired_logloss_test(y, p_dep, p_refit, alpha).verdict,
        "calib": m.calibration_test(y, p_dep, alpha).verdict,
        "chi2": m.data_drift_verdict(profile, batch, alpha, reference_rows=HISTORY_ROWS).verdict,
        "psi": diagnostics.data_drift(profile, batch, 0.5)["drift"],
        "gate": gate.deploy,
        "f1_deployed": m.f1_at(y_fresh, deployed.predict(frame[FEATURES]), 0.5),
    }
    for name, model in models.items():
        out[f"f1_{name}"] = m.f1_at(y_fresh, model.predict(frame[FEATURES]), 0.5)
    return out


def table(results: list[dict], best: dict) -> str:
    """One line per regime and size: shares of verdicts, mean F1s."""
    cols = ["detect", "calib", "chi2", "psi", "gate"]
    f1s = ["f1_deployed", "f1_recent", "f1_all", "f1_weighted"]
    head = f"{'regime':10} {'rows':>5} " + " ".join(f"{c:>6}" for c in cols)
    head += "  " + " ".join(f"{c[3:]:>8}" for c in f1s) + f" {'best':>6}"
    lines = [head, "-" * len(head)]
    for regime in REGIMES:
        for size in SIZES:
            rs = [r for r in results if r["regime"] == regime and r["size"] == size]
            if rs:
                shares = " ".join(f"{np.mean([r[c] for r in rs]):>6.2f}" for c in cols)
                means = " ".join(f"{np.mean([r[c] for r in rs]):>8.3f}" for c in f1s)
                lines.append(f"{regime:10} {size:>5} {shares}  {means} {best[regime]:>6.3f}")
    return "\n".join(lines)


def main() -> None:
    """Run the trials and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # convergence notes of tiny recent windows
    start, results = time.perf_counter(), []
    fresh, best = {}, {}
    for regime in REGIMES:
        frame, p = simulate.sample(regime, EVAL_ROWS, 999_999, "e")
        fresh[regime] = (frame, frame[TARGET].to_numpy())
        best[regime] = m.best_threshold(fresh[regime][1], p)[1]
    for trial in range(args.trials):
        history = simulate.sample("base", HISTORY_ROWS, 1000 * trial, "h")[0]
        deployed, _ = training.train_model(history, PARAMS)
        profile = training.feature_profile(history)
        for regime in REGIMES:
            for size in SIZES:
                seed = 1000 * trial + 10 * SIZES.index(size) + REGIMES.index(regime) + 100
                batch = simulate.sample(regime, size, seed, "b")[0]
                r = judge_batch(deployed, profile, history, batch, args.alpha, seed, fresh[regime])
                results.append({"regime": regime, "size": size, **r})
        print(f"trial {trial} done", file=sys.stderr, flush=True)
    print(table(results, best))
    print(
        f"\n{args.trials} trial(s), alpha {args.alpha}, {time.perf_counter() - start:.0f} s. "
        "Shares of batches; F1 on fresh rows of the regime."
    )


if __name__ == "__main__":
    main()
