"""Prometheus metrics of the API (GET /metrics), with the standard prometheus_client.

Request counts and latency per endpoint are counted in every server worker; under gunicorn
(PROMETHEUS_MULTIPROC_DIR set by gunicorn.conf.py) each worker writes them to that folder
and a scrape sums all workers. The served model and the last fullprocess run are read at
scrape time.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from risk_assessment.core.common import RiskError

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from risk_assessment.store import records as store

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def last_run(output_folder: Path) -> dict[str, Any] | None:
    """The last fullprocess run (decision, ended_at) from the store; None if there is none.

    The one place that reads the run history for metrics.
    """
    try:
        rows = store.read_history(output_folder, 1)
    except (RiskError, sqlite3.Error):
        return None
    return {"decision": rows[0]["decision"], "ended_at": rows[0]["ended_at"]} if rows else None


class StateCollector:
    """Gauges read at scrape time: the served model, the last run's decision and age."""

    def __init__(self, models, output_folder: Path):
        self.models, self.output_folder = models, output_folder

    def collect(self):
        """Yield the gauges (prometheus_client's custom collector protocol)."""
        info = GaugeMetricFamily("risk_model_info", "The served model", labels=["version"])
        f1 = GaugeMetricFamily("risk_model_f1", "F1 recorded when the served model deployed")
        manifest = self.models.manifest
        if manifest is not None:
            info.add_metric([manifest["version"]], 1)
            f1.add_metric([], float(manifest["f1"]))
        yield info
        yield f1
        run = last_run(self.output_folder)
        decision = GaugeMetricFamily(
            "risk_last_run_info", "Decision of the last fullprocess run", labels=["decision"]
        )
        age = GaugeMetricFamily("risk_last_run_age_seconds", "Seconds since the last run ended")
        if run and run["ended_at"]:
            decision.add_metric([str(run["decision"])], 1)
            ended = datetime.fromisoformat(run["ended_at"])
            age.add_metric([], max(0.0, datetime.now(ended.tzinfo).timestamp() - ended.timestamp()))
        yield decision
        yield age


class Metrics:
    """The request metrics of one app, and their exposition."""

    def __init__(self, models, output_folder: Path):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "risk_http_requests",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "risk_http_request_duration_seconds",
            "Request time by endpoint",
            ["endpoint"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.state = StateCollector(models, output_folder)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one request and its time."""
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of a scrape: all workers' counts plus the state gauges."""
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)
            registry.register(self.state)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        registry.register(self.state)
        return generate_latest(self.registry) + generate_latest(registry), CONTENT_TYPE_LATEST
