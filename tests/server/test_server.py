"""The documented production server (gunicorn -c gunicorn.conf.py wsgi:app) on 127.0.0.1:
MLflow's client payloads, gunicorn's own errors as JSON, slow clients, the access log."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from risk_assessment.core.settings import load_config
from tests.conftest import ROOT, deploy_workspace, free_port, small_rows, write_csv
from tests.server.test_protocol import CSV, MLFLOW_PAYLOADS


def make_workspace(folder: Path) -> Path:
    """A deployed workspace like conftest's, for a server shared by this module's tests."""
    write_csv(folder / "practicedata" / "dataset1.csv", small_rows(20, 0))
    write_csv(folder / "practicedata" / "dataset2.csv", small_rows(20, 20))
    write_csv(folder / "testdata" / "testdata.csv", small_rows(15, 100))
    given = {"output_folder_path": "ingesteddata", "output_model_path": "models"}
    given["diagnostics"] = {"package_index_url": "http://127.0.0.1:9/pypi"}
    (folder / "config.json").write_text(json.dumps(given), encoding="utf-8")
    deploy_workspace(load_config(folder / "config.json"))
    return folder / "config.json"


def wait_ready(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    """Poll /health until it answers 200; fail with the server's log if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real gunicorn with the production settings over a deployed workspace."""
    folder = tmp_path_factory.mktemp("served")
    config = make_workspace(folder)
    port = free_port()
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    env = {
        **os.environ,
        "RISK_CONFIG": str(config),
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        "RISK_BIND": f"127.0.0.1:{port}",
        "RISK_BODY_TIMEOUT": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield {"url": url, "port": port, "log": folder / "server.log", "config": config}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.parametrize("name", list(MLFLOW_PAYLOADS))
def test_mlflow_client_payloads(server, name):
    """What ScoringServerClient.invoke sends (JSON body, Content-Type: application/json)."""
    answer = requests.post(
        server["url"] + "/invocations",
        data=json.dumps(MLFLOW_PAYLOADS[name]),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == 3 and set(predictions) <= {0, 1}


def test_mlflow_client_ping_version_and_csv(server):
    """ScoringServerClient.ping and get_version answer 200; text/csv is scored."""
    assert requests.get(server["url"] + "/ping", timeout=10).status_code == 200
    assert requests.get(server["url"] + "/version", timeout=10).status_code == 200
    answer = requests.post(
        server["url"] + "/invocations", data=CSV, headers={"Content-Type": "text/csv"}, timeout=10
    )
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 3


def raw_request(port: int, payload: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes; (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 431),
        (b"GET /" + b"a" * 8_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
    ],
    ids=["bad-request-line", "20kb-header", "8kb-request-line", "bad-header"],
)
def test_server_level_errors_are_json(server, payload, status):
    """Gunicorn's own refusals come as JSON in the app's error shape, not HTML."""
    code, headers, body = raw_request(server["port"], payload)
    assert code == status and headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["error_code"] and answer["message"] == answer["error"]


def slow_client(port: int) -> socket.socket:
    """A client that promises a 10 kB body, sends its headers and 10 bytes, then stalls."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000\r\n\r\n" + b'{"inputs":'
    )
    return sock


def test_health_answers_quickly_with_ten_slow_clients(server):
    """10 stalled uploads hold threads, not the server: /health still answers in 100 ms."""
    clients = [slow_client(server["port"]) for _ in range(10)]
    try:
        time.sleep(0.5)  # let every stalled request reach a worker
        times = []
        with requests.Session() as session:
            for _ in range(9):
                start = time.perf_counter()
                assert session.get(server["url"] + "/health", timeout=5).status_code == 200
                times.append(time.perf_counter() - start)
    finally:
        for sock in clients:
            sock.close()
    assert statistics.median(times) < 0.1 and max(times) < 2, times


def test_one_access_log_line_per_request_with_its_time(server):
    """Every request is logged once, with its status and its time in milliseconds."""
    marker = f"/health?probe={time.time_ns()}"
    requests.get(server["url"] + marker, timeout=10)
    time.sleep(0.3)
    lines = [ln for ln in server["log"].read_text().splitlines() if marker in ln]
    assert len(lines) == 1 and " 200 " in lines[0] and lines[0].endswith("ms")


def test_metrics_count_the_requests_of_every_worker(server):
    """Under gunicorn each worker counts into the shared folder; a scrape sums them all."""
    from prometheus_client.parser import text_string_to_metric_families

    def pings() -> float:
        text = requests.get(server["url"] + "/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "risk_http_requests_total" and s.labels["endpoint"] == "/ping":
                    return s.value
        return 0.0

    before = pings()
    for _ in range(40):  # a new connection each: both workers take some
        requests.get(server["url"] + "/ping", timeout=10)
    assert [pings() - before for _ in range(4)] == [40.0] * 4


def test_a_stalled_upload_gets_408_json(server):
    """A body that stops arriving is answered 408 JSON after the read timeout (2 s here)."""
    sock = slow_client(server["port"])
    sock.settimeout(15)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408") and json.loads(body)["error_code"] == "BAD_REQUEST"
