"""Benchmark: API latency with a large finaldata.csv, first call and cached calls.

Run:  .venv/bin/python benchmarks/bench_api.py [--rows 1000000] [--versions 1] [--runs 0]
Ingests --rows generated rows into a temporary workspace, trains, scores and deploys
(--versions times, with different C), records --runs judged runs, then times each
endpoint through the Flask test client (first call, then the median of 5 more). The
first call validates and caches the data; later calls reuse it until the file changes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from risk_assessment.core.common import write_atomic  # noqa: E402

from risk_assessment.core.settings import load_config  # noqa: E402
from risk_assessment.deployment import versions as deployment  # noqa: E402
from risk_assessment.modelling import scoring, training  # noqa: E402
from risk_assessment.samples import course as generate_data  # noqa: E402
from risk_assessment.server.app import create_app  # noqa: E402
from risk_assessment.sources import ingestion  # noqa: E402
from risk_assessment.store import records as store  # noqa: E402

ENDPOINTS = [
    "/diagnostics",
    "/summarystats",
    "/scoring",
    "/risk?top=50",
    "/risk/{top}",
    "/",
    "/?q=ab&sort=client",
    "/?band=high&page=3",
    "/client/{top}",
    "/risk?format=csv&band=high",
]


def workspace(root: Path, rows: int, versions: int = 1, runs: int = 0) -> dict:
    """A deployed workspace whose finaldata.csv holds about `rows` rows, with `versions`
    deployed versions and `runs` recorded judged runs."""
    write_atomic(root / "in" / "big.csv", generate_data.large_file(rows))
    shutil.copytree(ROOT / "testdata", root / "testdata")
    settings = {
        "input_folder_path": "in",
        "output_folder_path": "out",
        "test_data_path": "testdata",
        "output_model_path": "models",
        "prod_deployment_path": "prod",
    }
    (root / "config.json").write_text(json.dumps(settings))
    config = load_config(root / "config.json")
    ingestion.run_ingestion(config)
    for i in range(versions):
        config["training"]["C"] = 1.0 / (i + 1)  # another model, so another version
        training.run_training(config)
        scoring.run_scoring(config)
        deployment.deploy(config)
    for i in range(runs):
        run = store.Run(
            new_rows=500,
            deployed_version=f"v{versions:04d}",
            batch_f1=0.5 + i % 7 / 100,
            batch_f1_low=0.45,
            batch_f1_high=0.6,
            decision="no drift",
        )
        store.record_run(config["output_folder_path"], run)
    return config


def main() -> None:
    """Time every endpoint on a large workspace."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=1)
    parser.add_argument("--runs", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = workspace(Path(tmp), args.rows, args.versions, args.runs)
        client = create_app(config).test_client()
        top = None  # the first client, once /risk has been timed
        for url in ENDPOINTS:
            if "{top}" in url:
                top = top or client.get("/risk?top=1").get_json()["clients"][0]["corporation"]
                url = url.format(top=top)
            start = time.perf_counter()
            status = client.get(url).status_code
            first = time.perf_counter() - start
            times = []
            for _ in range(5):
                start = time.perf_counter()
                client.get(url)
                times.append(time.perf_counter() - start)
            print(
                f"{url:28} {status}  first {first * 1000:8.0f} ms   "
                f"then {statistics.median(times) * 1000:7.1f} ms"
            )


if __name__ == "__main__":
    main()
