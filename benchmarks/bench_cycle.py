"""Benchmark: seconds of fullprocess.py's cycles, cold (a fresh Python, as cron runs it),
beside the bare import time of its heavy libraries measured in the same run.

On a temporary copy of the shipped data: a first run deploys on the practice data; then
sourcedata/dataset3.csv arrives and the full cycle (ingest, checks, retrain, gate,
deploy, report) runs once plainly, for its wall time, and once under cProfile on a copy
of the same state, for the time of each of fullprocess.py's own functions (profiling
adds some overhead); finally a tick with nothing new.

Run:  .venv/bin/python benchmarks/bench_cycle.py
Prints seconds; asserts nothing.
"""

from __future__ import annotations

import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from risk_assessment.core.settings import load_config  # noqa: E402
from risk_assessment.store import records as store  # noqa: E402

CONFIG = {
    "input_folder_path": "input",
    "output_folder_path": "ingested",
    "test_data_path": "testdata",
    "output_model_path": "models",
    "prod_deployment_path": "prod",
    # never the network: a closed local port stands for the package index and the API
    "diagnostics": {"package_index_url": "http://127.0.0.1:9/pypi", "index_timeout_seconds": 0.5},
    "api": {"base_url": "http://127.0.0.1:9"},
    "ingestion": {"settle_seconds": 0},  # the batch is copied moments before the cycle
}
HEAVY = "import pandas, sklearn.linear_model, matplotlib.pyplot, seaborn, reportlab.pdfgen.canvas"


def cold(args: list[str]) -> float:
    """Wall seconds of a fresh Python running args (check=True)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def workspace(root: Path) -> Path:
    """The shipped practice and test data with an offline config; returns the config."""
    shutil.copytree(ROOT / "practicedata", root / "input")
    shutil.copytree(ROOT / "testdata", root / "testdata")
    config = root / "config.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    return config


def decision(config: Path) -> str:
    """The last run's decision and reason, from runs.db."""
    last = store.read_history(load_config(config)["output_folder_path"], 1)[-1]
    return f"{last['decision']} ({last['reason']})"


def label(func: tuple) -> str:
    """A readable name for a pstats function key: module.function, or 'imports'."""
    file, _, name = func
    if name == "_find_and_load":
        return "imports"
    return f"{Path(file).stem}.{name}" if file != "~" else name.strip("<>")


def steps(profile: Path, min_seconds: float = 0.05) -> list[str]:
    """fullprocess.py's functions (>= min_seconds, slowest first), each with what it calls
    that takes >= min_seconds: the cycle per step."""
    stats = pstats.Stats(str(profile))
    stats.calc_callees()
    own = sorted(
        (f for f in stats.stats if Path(f[0]).name == "fullprocess.py" and f[2] != "<module>"),
        key=lambda f: -stats.stats[f][3],
    )
    lines = []
    for func in own:
        if stats.stats[func][3] < min_seconds:
            continue
        lines.append(f"    {label(func):34} {stats.stats[func][3]:6.2f} s")
        totals: dict[str, float] = {}
        for callee, entry in stats.all_callees.get(func, {}).items():
            totals[label(callee)] = totals.get(label(callee), 0.0) + entry[3]
        for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
            if seconds >= min_seconds:
                lines.append(f"        {name:30} {seconds:6.2f} s")
    return lines


def main() -> None:
    """Time the cycles and print them."""
    script = str(ROOT / "fullprocess.py")
    with tempfile.TemporaryDirectory() as tmp:
        first = workspace(Path(tmp) / "a")
        t_first = cold([script, "--config", str(first)])
        print(f"first run (deploy on practice data) {t_first:6.2f} s: {decision(first)}")
        shutil.copytree(first.parent, Path(tmp) / "b", symlinks=True)
        for root in ("a", "b"):
            shutil.copy(ROOT / "sourcedata" / "dataset3.csv", Path(tmp) / root / "input")
        t_cycle = cold([script, "--config", str(first)])
        print(f"full cycle on a new batch           {t_cycle:6.2f} s: {decision(first)}")
        prof = Path(tmp) / "cycle.prof"
        other = Path(tmp) / "b" / "config.json"
        cold(["-m", "cProfile", "-o", str(prof), script, "--config", str(other)])
        print("  per step (profiled, so somewhat slower):")
        print("\n".join(steps(prof)))
        t_tick = cold([script, "--config", str(first)])
        print(f"tick with nothing new               {t_tick:6.2f} s")
    t_floor = cold(["-c", HEAVY])
    t_python = cold(["-c", "pass"])
    print(f"bare import floor (pandas, sklearn, matplotlib, seaborn, reportlab) {t_floor:.2f} s")
    print(
        f"bare Python start {t_python:.2f} s; cycle above the import floor "
        f"{t_cycle - t_floor:.2f} s"
    )


if __name__ == "__main__":
    main()
