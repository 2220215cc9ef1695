"""GET /metrics: Prometheus text, parsed with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from risk_assessment.server import metrics
from risk_assessment.store import records as store


def scrape(client) -> dict[str, list]:
    """Metric family name -> samples of a /metrics answer."""
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    families = text_string_to_metric_families(answer.get_data(as_text=True))
    return {f.name: f.samples for f in families}


def sample(samples: list, name: str, **labels) -> float | None:
    """The value of the sample with this name and these labels, or None."""
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def test_requests_are_counted_per_endpoint_with_latency(client):
    """Counts by route rule (not raw path), method and status; a latency histogram."""
    for _ in range(3):
        client.post("/invocations", json={"inputs": [[1, 2, 3]]})
    client.post("/invocations", json={"inputs": []})
    client.get("/risk/nobody")
    found = scrape(client)
    counts = found["risk_http_requests"]
    total = "risk_http_requests_total"
    assert sample(counts, total, endpoint="/invocations", method="POST", status="200") == 3
    assert sample(counts, total, endpoint="/invocations", status="400") == 1
    assert sample(counts, total, endpoint="/risk/<corporation>", status="404") == 1
    latency = found["risk_http_request_duration_seconds"]
    assert sample(latency, "risk_http_request_duration_seconds_count", endpoint="/invocations") == 4


def test_model_version_and_last_run(client, deployed):
    """The served version and F1, the last run's decision and its age."""
    assert "risk_last_run_info" not in {k for k, v in scrape(client).items() if v}
    run = store.Run(decision="deployed")
    store.record_run(deployed["output_folder_path"], run)
    found = scrape(client)
    assert sample(found["risk_model_info"], "risk_model_info", version="v0001") == 1
    assert 0 <= sample(found["risk_model_f1"], "risk_model_f1") <= 1
    assert sample(found["risk_last_run_info"], "risk_last_run_info", decision="deployed") == 1
    assert 0 <= sample(found["risk_last_run_age_seconds"], "risk_last_run_age_seconds") < 60


def test_last_run_reads_the_history_read_only(tmp_path):
    """No runs.db: None, and none is created."""
    assert metrics.last_run(tmp_path) is None
    assert not (tmp_path / "runs.db").exists()
