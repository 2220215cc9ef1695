"""Benchmark: model-server throughput under the production settings, across a redeploy.

Run:  .venv/bin/python benchmarks/bench_server.py [--seconds 20] [--connections 32]
Deploys the shipped practice data in a temporary workspace, prepares a second model (also
trained on the source data), starts gunicorn with gunicorn.conf.py on 127.0.0.1, and runs
--connections keep-alive connections (in 4 client processes) sending a mix of single-record
predictions (POST /invocations, 9 in 10) and GET /scoring (1 in 10). Halfway through, the
second model is deployed. Every answer is checked: status 200, and consistent with one
model (a prediction of either model for that record; /scoring's F1 that of the version it
names): an answer mixing two versions counts as "mixed". Prints a table per endpoint.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from risk_assessment.core.columns import DEFAULT_SCHEMA  # noqa: E402

FEATURES = DEFAULT_SCHEMA.feature_names

import numpy as np  # noqa: E402

from risk_assessment.core.settings import load_config  # noqa: E402
from risk_assessment.deployment import versions as deployment  # noqa: E402
from risk_assessment.modelling import scoring, training  # noqa: E402
from risk_assessment.sources import ingestion  # noqa: E402

CLIENT_PROCESSES = 4
SCORING_SHARE = 0.1


def workspace(root: Path) -> tuple[dict, dict]:
    """(live config, second config): the practice model deployed, a second one trained."""
    for folder in ("practicedata", "sourcedata", "testdata"):
        shutil.copytree(ROOT / folder, root / folder)
    settings = {"output_folder_path": "out", "output_model_path": "models"}
    (root / "config.json").write_text(json.dumps(settings))
    second = {**settings, "input_folder_path": "both", "output_folder_path": "out2"}
    second["output_model_path"] = "models2"
    (root / "second.json").write_text(json.dumps(second))
    (root / "both").mkdir()
    for path in [*(root / "practicedata").glob("*.csv"), *(root / "sourcedata").glob("*.csv")]:
        shutil.copy(path, root / "both" / path.name)
    configs = load_config(root / "config.json"), load_config(root / "second.json")
    for config in configs:
        ingestion.run_ingestion(config)
        training.run_training(config)
        scoring.run_scoring(config)
    deployment.deploy(configs[0])
    return configs


def expectations(configs: tuple[dict, dict], records: np.ndarray) -> tuple[list, dict]:
    """Per record, the predictions of both models; F1 per future version name."""
    import pandas as pd

    preds = []
    for config in configs:
        model, _ = scoring.load_trained_model(config["output_model_path"])
        preds.append(model.predict(pd.DataFrame(records, columns=FEATURES)).tolist())
    f1s = {
        f"v{i + 1:04d}": json.loads((c["output_model_path"] / "scores.json").read_text())["f1"]
        for i, c in enumerate(configs)
    }
    return [set(p) for p in zip(*preds, strict=True)], f1s


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(config_file: Path, port: int, folder: Path) -> subprocess.Popen:
    """gunicorn -c gunicorn.conf.py wsgi:app, waited for until /health answers."""
    env = {**os.environ, "RISK_CONFIG": str(config_file), "RISK_BIND": f"127.0.0.1:{port}"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder / "metrics")
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - the server's own output
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(300):
        if proc.poll() is not None:
            break
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            health = conn.getresponse()
            health.read()
            if health.status == 200:
                # warm every worker: each loads the model and the test data once
                for _ in range(20):
                    conn.request("GET", "/scoring")
                    conn.getresponse().read()
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    proc.wait(timeout=30)
    raise RuntimeError("server did not start; see server.log")


def one_connection(args) -> list[tuple]:
    """Requests on one keep-alive connection until the deadline: (kind, seconds, outcome)."""
    port, deadline, records, expected, f1s, seed = args
    rng, out = random.Random(seed), []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    while time.time() < deadline:
        scoring_call = rng.random() < SCORING_SHARE
        i = rng.randrange(len(records))
        start = time.perf_counter()
        try:
            if scoring_call:
                conn.request("GET", "/scoring")
            else:
                body = json.dumps({"inputs": [records[i]]})
                conn.request("POST", "/invocations", body=body, headers=headers)
            answer = conn.getresponse()
            data = json.loads(answer.read())
            seconds = time.perf_counter() - start
        except (OSError, http.client.HTTPException, ValueError):
            out.append(("scoring" if scoring_call else "invocations", 0.0, "error"))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if answer.status != 200:
            outcome = "error"
        elif scoring_call:
            outcome = "ok" if f1s.get(data.get("model_version")) == data.get("f1") else "mixed"
        else:
            outcome = "ok" if data["predictions"][0] in expected[i] else "mixed"
        out.append(("scoring" if scoring_call else "invocations", seconds, outcome))
    conn.close()
    return out


def connections_in_process(args) -> list[tuple]:
    """A client process: its share of the connections, one thread each."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = args
    with ThreadPoolExecutor(len(jobs)) as pool:
        return [r for result in pool.map(one_connection, jobs) for r in result]


def table(results: list[tuple], seconds: float) -> str:
    """The printed table: per endpoint and in all, requests, rate, latency, errors, mixed."""
    lines = ["endpoint       requests   req/s   p50 ms   p99 ms  errors  mixed"]
    for kind in ("invocations", "scoring", "all"):
        rows = [r for r in results if kind in ("all", r[0])]
        times = np.array([r[1] for r in rows if r[2] != "error"]) * 1000
        p50, p99 = np.percentile(times, [50, 99]) if len(times) else (float("nan"),) * 2
        errors = sum(r[2] == "error" for r in rows)
        mixed = sum(r[2] == "mixed" for r in rows)
        lines.append(
            f"{kind:14} {len(rows):8d} {len(rows) / seconds:7.0f} {p50:8.1f} {p99:8.1f}"
            f" {errors:7d} {mixed:6d}"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the load, redeploy halfway, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        configs = workspace(root)
        test = np.loadtxt(
            root / "testdata" / "testdata.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3)
        )
        records = test[:200].tolist()
        expected, f1s = expectations(configs, np.array(records))
        port = free_port()
        server = start_server(root / "config.json", port, root)
        try:
            deadline = time.time() + args.seconds
            jobs = [
                (port, deadline, records, expected, f1s, seed) for seed in range(args.connections)
            ]
            shares = [jobs[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
            with multiprocessing.get_context("spawn").Pool(CLIENT_PROCESSES) as pool:
                pending = pool.map_async(connections_in_process, shares)
                time.sleep(args.seconds / 2)
                version = deployment.deploy(configs[1])
                results = [r for part in pending.get() for r in part]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    print(
        f"{args.connections} connections, {args.seconds:.0f} s, redeployed to {version} "
        f"halfway; gunicorn.conf.py ({os.cpu_count()} cores)"
    )
    print(table(results, args.seconds))


if __name__ == "__main__":
    main()
