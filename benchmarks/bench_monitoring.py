"""Benchmark: does the monitoring loop follow a changing world? Simulated, through the
real fullprocess.py, on a generator whose true exit probability is known (simulate.py).

Per trial: a temporary workspace (config.json with relative paths, an initial file of the
base regime, testdata.csv from the base regime); fullprocess.run_once() deploys a first
model; then a batch of the regime is written to the input folder and process() runs
again ("concept x4": four concept-drift batches, one run after each). Measured:

    retrain   share of batch runs that retrained (decision deployed or refused)
    deployed  share of batch runs that deployed
    F1        the served model's F1 (its own predict) on 20,000 fresh rows of the regime
    best      the true probability's F1 at its F1-optimal cut-off on the same rows
    AUC       the served model's ROC AUC there (true probability's beside it)
    top10     share of true exits among the served model's top 10% of those clients
    cycle s   mean seconds of the batch run(s)

Run:  .venv/bin/python benchmarks/bench_monitoring.py [--trials N] [--quick]
Prints a table; asserts nothing. `--quick`: 1 trial, batches of 500 only.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from risk_assessment.core.columns import DEFAULT_SCHEMA  # noqa: E402

FEATURES = DEFAULT_SCHEMA.feature_names

import simulate  # noqa: E402

from risk_assessment.core.settings import load_config  # noqa: E402
from risk_assessment.deployment import versions as deployment  # noqa: E402
from risk_assessment.monitoring.statistics import best_threshold, f1_at, roc_auc  # noqa: E402
from risk_assessment.pipeline import run as fullprocess  # noqa: E402

INITIAL_ROWS = 5000  # the base-regime history the first model is trained on
TEST_ROWS = 1000  # testdata.csv, base regime (the original project's frozen test set)
EVAL_ROWS = 20_000  # fresh sample of the regime the served model is judged on
SIZES = (200, 500, 2000)
CELLS = ["base", "concept", "covariate", "exit_rate", "mild", "concept x4"]
RETRAINED = {"deployed", "refused"}
CONFIG = {
    "input_folder_path": "input",
    "output_folder_path": "ingested",
    "test_data_path": "testdata",
    "output_model_path": "models",
    "prod_deployment_path": "prod",
    # never the network: a closed local port stands for the package index and the API
    "diagnostics": {"package_index_url": "http://127.0.0.1:9/pypi", "index_timeout_seconds": 0.5},
    "api": {"base_url": "http://127.0.0.1:9"},
    "ingestion": {"settle_seconds": 0},  # batches are written moments before each run
}


def write_frame(frame, path: Path) -> None:
    """A sample as a CSV file in the project's schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def deployed_workspace(root: Path, trial: int) -> Path:
    """A workspace with the base-regime history ingested and a first model deployed."""
    seed = 1000 * trial
    write_frame(simulate.sample("base", INITIAL_ROWS, seed, "h")[0], root / "input" / "initial.csv")
    write_frame(
        simulate.sample("base", TEST_ROWS, seed + 1, "t")[0], root / "testdata" / "testdata.csv"
    )
    (root / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    run = fullprocess.run_once(load_config(root / "config.json"))
    if run.decision != "deployed":
        raise RuntimeError(f"first deployment failed: {run.decision} {run.reason} {run.error}")
    return root


def run_cell(base: Path, cell_dir: Path, cell: str, size: int, trial: int) -> dict:
    """Copy the deployed workspace, feed the cell's batch(es), run, and judge the result."""
    shutil.copytree(base, cell_dir, symlinks=True)
    config = load_config(cell_dir / "config.json")
    regime, batches = ("concept", 4) if cell == "concept x4" else (cell, 1)
    seconds, decisions = [], []
    for b in range(batches):
        seed = 1000 * trial + 10 * SIZES.index(size) + 100 + b
        frame, _ = simulate.sample(regime, size, seed, f"b{b}_")
        write_frame(frame, cell_dir / "input" / f"batch{b}.csv")
        start = time.perf_counter()
        decisions.append(fullprocess.run_once(config).decision)
        seconds.append(time.perf_counter() - start)
    model, _ = deployment.load_deployed(config["prod_deployment_path"])
    return {"decisions": decisions, "seconds": float(np.mean(seconds)), **judge(model, regime)}


_EVAL: dict[str, tuple] = {}


def evaluation_sample(regime: str) -> tuple:
    """(frame, true p, best F1, true AUC) of the regime's fresh sample, computed once."""
    if regime not in _EVAL:
        frame, p = simulate.sample(regime, EVAL_ROWS, 999_999, "e")
        y = frame["exited"].to_numpy()
        _EVAL[regime] = (frame, p, best_threshold(y, p)[1], roc_auc(y, p))
    return _EVAL[regime]


def judge(model, regime: str) -> dict:
    """The served model on the regime's fresh sample: F1 (own cut-off), AUC, top 10%."""
    frame, p_true, best, auc_true = evaluation_sample(regime)
    y = frame["exited"].to_numpy()
    pred = model.predict(frame[FEATURES])
    proba = model.predict_proba(frame[FEATURES])[:, 1]
    top = np.argsort(-proba, kind="stable")[: len(y) // 10]
    return {
        "f1": f1_at(y, pred, 0.5),
        "best": best,
        "auc": roc_auc(y, proba),
        "auc_true": auc_true,
        "top10": float(y[top].mean()),
    }


def import_floor() -> float:
    """Seconds to import pandas, scikit-learn, matplotlib, seaborn and reportlab, fresh."""
    code = (
        "import pandas, sklearn.linear_model, matplotlib.pyplot, seaborn, reportlab.pdfgen.canvas"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def summarize(results: list[dict]) -> list[str]:
    """The table: one line per cell and size."""
    head = (
        f"{'regime':11} {'rows':>5} {'n':>3} {'retrain':>8} {'deployed':>8} {'F1':>6} "
        f"{'best':>6} {'gap':>6} {'AUC':>6} {'AUC*':>6} {'top10':>6} {'cycle s':>8}"
    )
    lines = [head, "-" * len(head)]
    for cell in CELLS:
        for size in SIZES:
            rs = [r for r in results if r["cell"] == cell and r["size"] == size]
            if not rs:
                continue
            mean = {
                k: float(np.mean([r[k] for r in rs]))
                for k in rs[0]
                if k not in ("cell", "size", "decisions")
            }
            decisions = [d for r in rs for d in r["decisions"]]
            retrain = np.mean([d in RETRAINED for d in decisions])
            deployed = np.mean([d == "deployed" for d in decisions])
            lines.append(
                f"{cell:11} {size:>5} {len(rs):>3} {retrain:>8.2f} {deployed:>8.2f} "
                f"{mean['f1']:>6.3f} {mean['best']:>6.3f} {mean['best'] - mean['f1']:>6.3f} "
                f"{mean['auc']:>6.3f} {mean['auc_true']:>6.3f} {mean['top10']:>6.3f} "
                f"{mean['seconds']:>8.2f}"
            )
    return lines


def main() -> None:
    """Run the trials and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="1 trial, batches of 500 only")
    parser.add_argument("--cells", nargs="*", default=CELLS, choices=CELLS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    trials, sizes = (1, (500,)) if args.quick else (args.trials, SIZES)
    results, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(trials):
            base = deployed_workspace(Path(tmp) / f"t{trial}" / "base", trial)
            for cell in args.cells:
                for size in sizes:
                    folder = Path(tmp) / f"t{trial}" / f"{cell.replace(' ', '')}_{size}"
                    r = run_cell(base, folder, cell, size, trial)
                    results.append({"cell": cell, "size": size, **r})
                    print(
                        f"trial {trial} {cell:11} {size:>5}: "
                        f"{','.join(r['decisions'])} F1 {r['f1']:.3f}",
                        file=sys.stderr,
                        flush=True,
                    )
    print("\n".join(summarize(results)))
    print(
        f"\nAUC* and best: the true probability. {trials} trial(s), "
        f"{time.perf_counter() - start:.0f} s; bare import floor {import_floor():.2f} s"
    )


if __name__ == "__main__":
    main()
