"""Benchmark: what a bearer token on every request costs the model server.

Run:  .venv/bin/python benchmarks/bench_auth.py [--seconds 10] [--connections 32] [--rounds 2]
Deploys the shipped practice data in a temporary workspace and starts gunicorn with
gunicorn.conf.py on 127.0.0.1, then alternates rounds of single-record predictions
(POST /invocations, keep-alive connections in 4 client processes): "open" while the store
has no user, "token" with an admin and a predict token in the store and the token sent on
every request (checked: one SHA-256 and one indexed SELECT per request). Every answer must
be 200. Prints requests/s and latency per round and the token rounds' change in req/s,
and the check's own cost per request measured in-process (less noisy on a shared machine).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_server  # noqa: E402
import numpy as np  # noqa: E402

from risk_assessment.access import accounts  # noqa: E402
from risk_assessment.store import accounts as rows  # noqa: E402

CLIENT_PROCESSES = 4


def one_connection(args) -> list[tuple[float, int]]:
    """Predictions on one keep-alive connection until the deadline: (seconds, status)."""
    port, deadline, records, token = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    out, i = [], 0
    while time.time() < deadline:
        body = json.dumps({"inputs": [records[i % len(records)]]})
        start = time.perf_counter()
        try:
            conn.request("POST", "/invocations", body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            out.append((time.perf_counter() - start, answer.status))
        except (OSError, http.client.HTTPException):
            out.append((0.0, 0))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i += 1
    conn.close()
    return out


def in_process(jobs) -> list[tuple[float, int]]:
    """A client process: its share of the connections, one thread each."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        return [r for result in pool.map(one_connection, jobs) for r in result]


def noop(_) -> None:
    """Nothing: a first task that has each client process imported and ready."""


def load(pool, port: int, records: list, token: str | None, seconds: float, connections: int):
    """One round: (requests/s, p50 ms, p99 ms, answers that were not 200)."""
    pool.map(noop, range(CLIENT_PROCESSES))
    deadline = time.time() + seconds
    jobs = [(port, deadline, records, token) for _ in range(connections)]
    shares = [jobs[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    results = [r for part in pool.map(in_process, shares) for r in part]
    times = np.array([r[0] for r in results if r[1] == 200]) * 1000
    p50, p99 = np.percentile(times, [50, 99]) if len(times) else (float("nan"),) * 2
    return len(results) / seconds, p50, p99, sum(r[1] != 200 for r in results)


def in_process_cost(config: dict, records: list, token: str, n: int = 2000) -> str:
    """Mean time per POST /invocations through the app in this process (Flask's test
    client, no network), open vs with the token: the access check's own cost."""
    from risk_assessment.server.app import create_app

    client, body = create_app(config).test_client(), {"inputs": [records[0]]}
    means = {}
    for mode in ("open", "token", "open", "token"):  # twice each: the second pair counts
        set_mode(config["output_folder_path"], mode, token)
        headers = {"Authorization": f"Bearer {token}"} if mode == "token" else {}
        start = time.perf_counter()
        for _ in range(n):
            assert client.post("/invocations", json=body, headers=headers).status_code == 200
        means[mode] = (time.perf_counter() - start) / n * 1e6
    extra = means["token"] - means["open"]
    return (
        f"in-process: open {means['open']:.0f} us/request, "
        f"token {means['token']:.0f} us/request ({extra:+.0f})"
    )


def check_cost(config: dict, token: str, n: int = 20_000) -> str:
    """Mean time of the token check alone (SHA-256, indexed SELECT, expiry/revocation)."""
    from datetime import UTC, datetime

    folder = config["output_folder_path"]
    start = time.perf_counter()
    for _ in range(n):
        digest = accounts.token_sha256(token)
        row = rows.token_by_sha256(folder, digest)
        assert accounts.token_problem(row, digest, datetime.now(UTC)) is None
    return f"token check alone: {(time.perf_counter() - start) / n * 1e6:.1f} us/request"


def set_mode(folder: Path, mode: str, token: str) -> None:
    """open: no user in the store; token: an admin and the predict token."""
    if mode == "token" and not rows.count_users(folder):
        rows.add_user(folder, "ada", "admin", accounts.hash_password("x" * 12))
    if mode == "token" and not rows.token_by_sha256(folder, accounts.token_sha256(token)):
        rows.add_token(folder, "bench", accounts.token_sha256(token), ["predict"], None)
    if mode == "open" and rows.count_users(folder):
        rows.remove_user(folder, "ada")


def main() -> None:
    """Alternate open and token rounds on one server; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config, _ = bench_server.workspace(root)
        test = np.loadtxt(
            root / "testdata" / "testdata.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3)
        )
        records = test[:200].tolist()
        token, cost = accounts.new_token(), None
        cost = in_process_cost(config, records, token) + "\n" + check_cost(config, token)
        port = bench_server.free_port()
        server = bench_server.start_server(root / "config.json", port, root)
        rates = {"open": [], "token": []}
        print("round  mode     req/s   p50 ms   p99 ms   not 200")
        pool = multiprocessing.get_context("spawn").Pool(CLIENT_PROCESSES)
        try:
            for n in range(args.rounds):
                for mode in ("open", "token"):
                    set_mode(config["output_folder_path"], mode, token)
                    sent = token if mode == "token" else None
                    rate, p50, p99, bad = load(
                        pool, port, records, sent, args.seconds, args.connections
                    )
                    rates[mode].append(rate)
                    print(f"{n + 1:5d}  {mode:6} {rate:7.0f} {p50:8.1f} {p99:8.1f} {bad:9d}")
        finally:
            pool.terminate()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    change = np.mean(rates["token"]) / np.mean(rates["open"]) - 1
    print(f"token on every request: {change:+.1%} requests/s ({args.connections} connections)")
    print(cost)


if __name__ == "__main__":
    main()
