"""Diagnostics: predictions, statistics, missing data, timings, dependencies (local index)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_assessment.core.common import INGESTION_RECORD, MODEL_META, DataError
from risk_assessment.deployment import versions as deployment
from risk_assessment.modelling import scoring, training
from risk_assessment.reports import diagnostics
from risk_assessment.sources import ingestion
from tests.conftest import (  # the default schema's columns
    FEATURES,
    ID_COLUMN,
    run_script,
    small_rows,
    write_csv,
)

NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


class FakeIndex:
    """A PyPI-style JSON index on 127.0.0.1: known versions, a delay, a request counter."""

    def __init__(self, versions: dict[str, str], delay: float = 0.0, trickle: float = 0.0):
        self.versions, self.delay, self.trickle = versions, delay, trickle
        self.requests = 0
        self.stop = threading.Event()
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                index.requests += 1
                if index.delay and index.stop.wait(index.delay):
                    return  # shutting down: leave without answering
                name = self.path.strip("/").removesuffix("/json")
                if name not in index.versions:
                    self.send_error(404)
                    return
                known = index.versions[name]  # a version, or a whole "info" object
                info = known if isinstance(known, dict) else {"version": known}
                body = json.dumps({"info": info}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not index.trickle:
                    self.wfile.write(body)
                    return
                for byte in body:  # one byte at a time, each read under the socket timeout
                    if index.stop.wait(index.trickle):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *args: None  # a client that gave up is not news
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def fake_index(monkeypatch):
    """Start a local index: call with {name: version} (and delay=seconds)."""
    for key, value in NO_PROXY.items():
        monkeypatch.setenv(key, value)
    started = []

    def start(
        versions: dict[str, str] | None = None, delay: float = 0.0, trickle: float = 0.0
    ) -> FakeIndex:
        started.append(FakeIndex(versions or {}, delay, trickle))
        return started[-1]

    yield start
    for index in started:
        index.close()


def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 that nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def requirements(tmp_path: Path) -> Path:
    """A requirements file with an installed and a not installed package."""
    path = tmp_path / "requirements-test.txt"
    path.write_text("pandas==3.1.1\nnotinstalled-pkg==1.0\n", encoding="utf-8")
    return path


@pytest.fixture
def model(deployed):
    """The deployed model."""
    return deployment.load_deployed(deployed["prod_deployment_path"])[0]


def features_frame(n: int = 6, with_id: bool = True) -> pd.DataFrame:
    """n rows of the schema's features (and ids), low activity first."""
    rows = small_rows(n, 300)
    frame = pd.DataFrame(rows, columns=[ID_COLUMN, *FEATURES, "exited"])
    return frame if with_id else frame.drop(columns=ID_COLUMN)


# --- model_predictions ----------------------------------------------------------------------


@pytest.mark.reads_deployment
def test_predictions_keep_length_order_and_ids(model):
    """One row out per row in, same order, 0/1 predictions and probabilities in [0, 1]."""
    data = features_frame(9)
    preds = diagnostics.model_predictions(data, model)
    assert len(preds) == len(data)
    assert preds[ID_COLUMN].tolist() == data[ID_COLUMN].tolist()
    assert set(preds["prediction"]) <= {0, 1}
    assert preds["probability"].between(0, 1).all()
    expected = model.predict_proba(data[FEATURES].astype(float))[:, 1]
    np.testing.assert_allclose(preds["probability"], expected)


@pytest.mark.reads_deployment
def test_predictions_without_ids_have_no_id_column(model):
    """Data without a corporation column gives predictions without one."""
    preds = diagnostics.model_predictions(features_frame(4, with_id=False), model)
    assert list(preds.columns) == ["prediction", "probability"]


@pytest.mark.reads_deployment
def test_predictions_ignore_a_non_default_index(model):
    """Rows filtered out of a frame keep their order; the result is indexed 0..n-1."""
    data = features_frame(8).iloc[[5, 1, 3]]
    preds = diagnostics.model_predictions(data, model)
    assert preds[ID_COLUMN].tolist() == data[ID_COLUMN].tolist()
    assert preds.index.tolist() == [0, 1, 2]


@pytest.mark.reads_deployment
def test_missing_feature_column_is_named(model):
    """A missing feature column raises DataError naming it and the source."""
    data = features_frame(3).drop(columns="number_of_employees")
    with pytest.raises(DataError, match="upload.csv: missing column.*number_of_employees"):
        diagnostics.model_predictions(data, model, "upload.csv")


@pytest.mark.reads_deployment
def test_non_numeric_cell_names_column_and_row(model):
    """Text in a feature column raises DataError naming the column and the 1-based row."""
    data = features_frame(4).astype(str)
    data.loc[2, "lastyear_activity"] = "lots"
    with pytest.raises(DataError, match=r"column lastyear_activity row 3: 'lots'"):
        diagnostics.model_predictions(data, model)


# --- statistics -------------------------------------------------------------------------------


def test_dataframe_summary_exact_values():
    """Mean, median and sample standard deviation (ddof=1) per feature."""
    data = pd.DataFrame(
        {
            "lastmonth_activity": [1, 2, 3, 4],
            "lastyear_activity": [10, 10, 10, 10],
            "number_of_employees": [1, 1, 4, 10],
        }
    )
    summary = diagnostics.dataframe_summary(data)
    assert summary["lastmonth_activity"] == pytest.approx(
        {"mean": 2.5, "median": 2.5, "std": (5 / 3) ** 0.5}
    )
    assert summary["lastyear_activity"] == {"mean": 10.0, "median": 10.0, "std": 0.0}
    assert summary["number_of_employees"] == pytest.approx(
        {"mean": 4.0, "median": 2.5, "std": 18**0.5}
    )


def test_missing_data_counts_nan_and_empty_text():
    """NaN and empty (or blank) strings count as missing; shares per column."""
    data = pd.DataFrame(
        {
            "a": [1.0, np.nan, 3.0, 4.0],
            "b": ["x", "", "  ", "y"],
            "c": [1, 2, 3, 4],
            "d": [None, None, None, None],
        }
    )
    assert diagnostics.missing_data(data) == {"a": 0.25, "b": 0.5, "c": 0.0, "d": 1.0}


def test_missing_data_of_an_empty_frame_is_zero():
    """A frame without rows has no missing share: 0.0 per column."""
    assert diagnostics.missing_data(pd.DataFrame(columns=["a", "b"])) == {"a": 0.0, "b": 0.0}


# --- timings ----------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder (relative name -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_execution_time_on_a_fresh_workspace_writes_nothing(config, workspace):
    """Timing ingestion and training creates none of the output folders."""
    before = snapshot(workspace)
    timing = diagnostics.execution_time(config)
    assert timing["ingestion_seconds"] > 0 and timing["training_seconds"] > 0
    for key in ("output_folder_path", "output_model_path", "prod_deployment_path"):
        assert not config[key].exists()
    assert snapshot(workspace) == before


def test_execution_time_leaves_real_artifacts_unchanged(deployed, workspace):
    """After a full cycle, timing again leaves every workspace file byte-identical."""
    before = snapshot(workspace)
    timing = diagnostics.execution_time(deployed)
    assert set(timing) == {"ingestion_seconds", "training_seconds"}
    assert snapshot(workspace) == before


def test_recorded_timings_before_any_run_are_none(config):
    """With no ingestion record and no model metadata every timing is None."""
    assert set(diagnostics.recorded_timings(config).values()) == {None}


def test_recorded_timings_read_the_last_runs(deployed):
    """The last ingestion run's seconds and the model metadata's seconds."""
    write_csv(deployed["input_folder_path"] / "dataset3.csv", small_rows(10, 400))
    ingestion.run_ingestion(deployed)
    record = json.loads((deployed["output_folder_path"] / INGESTION_RECORD).read_text())
    meta = json.loads((deployed["output_model_path"] / MODEL_META).read_text())
    timings = diagnostics.recorded_timings(deployed)
    assert len(record["runs"]) == 2
    assert timings["ingestion_seconds"] == record["runs"][-1]["seconds"]
    assert timings["ingestion_time"] == record["runs"][-1]["time"]
    assert timings["training_seconds"] == meta["seconds"]
    assert timings["training_time"] == meta["trained_at"]


# --- dependencies -----------------------------------------------------------------------------


def test_pinned_requirements_skips_comments_blanks_and_includes(tmp_path):
    """Only `name==version` lines count; comments, blank and -r lines are skipped."""
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# runtime\n\n-r base.txt\nname==1.0\n  Other.Pkg == 2.3.4  # why\n"
        "# old==0.1\nloose>=1.0\nplain\n",
        encoding="utf-8",
    )
    assert diagnostics.pinned_requirements(path) == [("name", "1.0"), ("Other.Pkg", "2.3.4")]


def test_pinned_requirements_of_the_project():
    """The project's requirements.txt pins pandas."""
    names = [name for name, _ in diagnostics.pinned_requirements()]
    assert "pandas" in names


def test_outdated_packages_from_local_index(fake_index, requirements):
    """Latest versions come from the index; outdated compares installed with latest."""
    index = fake_index({"pandas": "9.9.9", "notinstalled-pkg": "1.0"})
    rows = {r["package"]: r for r in diagnostics.package_versions(index.url, 2, requirements)}
    assert rows["pandas"] == {
        "package": "pandas",
        "pinned": "3.1.1",
        "installed": pd.__version__,
        "latest": "9.9.9",
        "latest_unknown_reason": None,
        "latest_requires_python": None,
        "outdated": True,
    }
    assert rows["notinstalled-pkg"]["installed"] is None
    assert rows["notinstalled-pkg"]["latest"] == "1.0"
    assert rows["notinstalled-pkg"]["outdated"] is None


def test_latest_needing_another_python_is_not_an_upgrade(fake_index, requirements):
    """A latest release requiring a newer Python is shown, but not counted as outdated."""
    index = fake_index({"pandas": {"version": "9.9.9", "requires_python": ">=9.0"}})
    rows = {r["package"]: r for r in diagnostics.package_versions(index.url, 2, requirements)}
    assert rows["pandas"]["latest"] == "9.9.9"
    assert rows["pandas"]["latest_requires_python"] == ">=9.0"
    assert rows["pandas"]["outdated"] is False


def test_up_to_date_package_is_not_outdated(fake_index, requirements):
    """Installed equal to latest: outdated is False."""
    index = fake_index({"pandas": pd.__version__})
    rows = diagnostics.package_versions(index.url, 2, requirements)
    assert rows[0]["package"] == "pandas" and rows[0]["outdated"] is False


def test_unreachable_index_gives_a_reason(requirements):
    """A closed port: latest None and the reason says unreachable."""
    rows = diagnostics.package_versions(closed_port_url(), 2, requirements)
    for row in rows:
        assert row["latest"] is None and row["outdated"] is None
        assert "unreachable" in row["latest_unknown_reason"]


def test_slow_index_is_bounded_by_the_timeout(fake_index, requirements):
    """An index slower than the timeout: the call returns in about the timeout."""
    index = fake_index({"pandas": "9.9.9"}, delay=10)
    start = time.perf_counter()
    rows = diagnostics.package_versions(index.url, 0.5, requirements)
    assert time.perf_counter() - start < 2
    for row in rows:
        assert row["latest"] is None
        assert "within 0.5 s" in row["latest_unknown_reason"]


def test_trickling_index_is_bounded_by_an_overall_deadline(fake_index, requirements):
    """A server sending a byte every 0.3 s (each read within timeout) is cut off in time."""
    index = fake_index({"pandas": "9.9.9"}, trickle=0.3)
    start = time.monotonic()
    rows = {r["package"]: r for r in diagnostics.package_versions(index.url, 0.5, requirements)}
    assert time.monotonic() - start < 3
    assert rows["pandas"]["latest"] is None
    assert "did not answer" in rows["pandas"]["latest_unknown_reason"]


def test_index_404_gives_http_status(fake_index, requirements):
    """A package the index does not know: the reason names HTTP 404."""
    index = fake_index({"pandas": "9.9.9"})
    rows = {r["package"]: r for r in diagnostics.package_versions(index.url, 2, requirements)}
    assert rows["pandas"]["latest"] == "9.9.9"
    assert rows["notinstalled-pkg"]["latest"] is None
    assert "HTTP 404" in rows["notinstalled-pkg"]["latest_unknown_reason"]


def test_cached_dependencies_second_call_uses_the_cache(fake_index, tmp_path):
    """Within max_age_hours the second call reads the cache and asks the index nothing."""
    index = fake_index({"pandas": "9.9.9"})
    cache = tmp_path / "cache" / "dependencies.json"
    first = diagnostics.cached_dependencies(cache, index.url, 2, max_age_hours=24)
    asked = index.requests
    assert asked == len(diagnostics.pinned_requirements())
    assert json.loads(cache.read_text()) == first
    index.close()
    second = diagnostics.cached_dependencies(cache, index.url, 2, max_age_hours=24)
    assert second == first and index.requests == asked


def test_cached_dependencies_refreshes_an_old_cache(fake_index, tmp_path):
    """A cache older than max_age_hours is refreshed from the index and rewritten."""
    index = fake_index({"pandas": "9.9.9"})
    cache = tmp_path / "dependencies.json"
    old = {"checked_at": "2000-01-01T00:00:00+00:00", "index_url": index.url, "packages": []}
    cache.write_text(json.dumps(old), encoding="utf-8")
    fresh = diagnostics.cached_dependencies(cache, index.url, 2, max_age_hours=24)
    assert index.requests > 0
    assert fresh["checked_at"] > old["checked_at"]
    pandas_row = [r for r in fresh["packages"] if r["package"] == "pandas"][0]
    assert pandas_row["latest"] == "9.9.9"
    assert json.loads(cache.read_text()) == fresh


def cache_of(tmp_path: Path, url: str, hours_old: float, latest: str | None) -> Path:
    """A dependency cache file, hours_old hours old, from index url."""
    from datetime import UTC, datetime, timedelta

    when = (datetime.now(UTC) - timedelta(hours=hours_old)).isoformat(timespec="seconds")
    row = {
        "package": "pandas",
        "pinned": "3.1.1",
        "installed": "3.1.1",
        "latest": latest,
        "latest_unknown_reason": None if latest else "index unreachable",
        "outdated": None,
    }
    path = tmp_path / "dependencies.json"
    path.write_text(json.dumps({"checked_at": when, "index_url": url, "packages": [row]}))
    return path


def test_cache_from_another_index_is_refreshed(fake_index, tmp_path):
    """Changing the configured index invalidates the cache."""
    index = fake_index({"pandas": "9.9.9"})
    cache = cache_of(tmp_path, "http://elsewhere.invalid/pypi", 0, "3.1.1")
    fresh = diagnostics.cached_dependencies(cache, index.url, 2, max_age_hours=24)
    assert index.requests > 0 and fresh["index_url"] == index.url


def test_incomplete_cache_is_retried_after_an_hour(fake_index, tmp_path):
    """A table with unknown versions is retried after an hour; a complete one is kept."""
    index = fake_index({"pandas": "9.9.9"})
    kept = diagnostics.cached_dependencies(
        cache_of(tmp_path, index.url, 2, "3.1.1"), index.url, 2, max_age_hours=24
    )
    assert index.requests == 0 and kept["packages"][0]["latest"] == "3.1.1"
    retried = diagnostics.cached_dependencies(
        cache_of(tmp_path, index.url, 2, None), index.url, 2, max_age_hours=24
    )
    assert index.requests > 0
    assert [r["latest"] for r in retried["packages"] if r["package"] == "pandas"] == ["9.9.9"]


# --- command line -----------------------------------------------------------------------------


def use_index(workspace: Path, url: str) -> Path:
    """Point the workspace config's diagnostics at url with a short timeout."""
    path = workspace / "config.json"
    given = json.loads(path.read_text())
    given["diagnostics"] = {"package_index_url": url, "index_timeout_seconds": 1}
    path.write_text(json.dumps(given), encoding="utf-8")
    return path


def run_diagnostics(workspace: Path, index_url: str):
    """Run diagnostics.py on the workspace with the given package index."""
    config_file = use_index(workspace, index_url)
    return run_script("diagnostics.py", "--config", str(config_file), env=NO_PROXY)


def test_cli_prints_every_section(deployed, workspace, fake_index):
    """diagnostics.py prints summary, missing data, timing and dependency tables."""
    index = fake_index({"pandas": "9.9.9"})
    done = run_diagnostics(workspace, index.url)
    assert done.returncode == 0, done.stderr
    for title in ("Summary statistics", "Missing data", "Execution time", "Dependencies"):
        assert title in done.stdout
    assert "9.9.9" in done.stdout and index.requests > 0


def test_cli_without_deployed_model_fails_in_one_line(config, workspace, fake_index):
    """No deployment: exit 1, one ERROR line naming deployment.py, no traceback."""
    ingestion.run_ingestion(config)
    training.run_training(config)
    scoring.run_scoring(config)
    index = fake_index()
    done = run_diagnostics(workspace, index.url)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "run deployment.py" in errors[0]
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("installed", "latest", "upgrade"),
    [
        ("0.13.2", "0.2", False),  # a lower latest (seaborn's 0.2) is not an upgrade
        ("1.9.1", "1.10.0", True),  # compared as versions, not text
        ("2.0.0", "2.0", False),  # equal in PEP 440
        ("3.1.1", "3.2.0rc1", True),
        ("weird", "weirder", True),  # unreadable: different counts as newer
    ],
)
def test_is_upgrade_compares_pep440_versions(installed, latest, upgrade):
    """Versions are ordered by packaging.version."""
    assert diagnostics.is_upgrade(installed, latest) is upgrade


def test_lower_latest_is_not_outdated(fake_index, requirements):
    """An index whose latest is lower than the installed version: not outdated."""
    index = fake_index({"pandas": "0.2"})
    rows = diagnostics.package_versions(index.url, 2, requirements)
    assert rows[0]["latest"] == "0.2" and rows[0]["outdated"] is False


def test_packaging_is_pinned():
    """diagnostics imports packaging: requirements.txt pins it."""
    assert "packaging" in dict(diagnostics.pinned_requirements())


def test_trickling_index_does_not_keep_the_process_alive(fake_index, requirements):
    """After the deadline, the process exits at once, though the index is still sending."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    index = fake_index({"pandas": "9.9.9"}, trickle=0.3)  # the body takes about 10 s
    code = (
        "import sys; from risk_assessment.reports import diagnostics; print('start', flush=True); "
        f"diagnostics.package_versions({index.url!r}, 0.5, __import__('pathlib')"
        f".Path({str(requirements)!r})); print('done', flush=True)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **NO_PROXY},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "start"
    start = time.monotonic()
    proc.wait(timeout=20)
    assert proc.stdout.read().strip() == "done"
    proc.stdout.close()
    assert time.monotonic() - start < 3.5, "the process outlived the look-up's deadline"
