"""apicalls.py against the real production server (gunicorn) on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from risk_assessment.client import apicalls
from risk_assessment.core.common import RiskError
from tests.conftest import (
    ROOT,
    free_port,
    production_server,
    run_script,
    small_rows,
    write_csv,
)


@pytest.fixture(scope="module")
def server(shared_deployed):
    """gunicorn serving wsgi:app for the module's deployment on a free port, started once;
    yields the base URL."""
    with production_server(shared_deployed["config_file"]) as url:
        yield url


def test_apicalls_against_the_production_server(server, shared_deployed):
    """Every endpoint answers 200 and both answer files are written."""
    config_file = str(shared_deployed["config_file"])
    done = run_script("apicalls.py", "--config", config_file, "--url", server)
    assert done.returncode == 0, done.stderr
    folder = shared_deployed["output_model_path"]
    saved = json.loads((folder / "apireturns.json").read_text())
    paths = {(a["method"], a["path"]) for a in saved["answers"]}
    for endpoint in (
        "/prediction",
        "/scoring",
        "/summarystats",
        "/diagnostics",
        "/health",
        "/invocations",
    ):
        assert any(p == endpoint for _, p in paths), endpoint
    assert all(a["status"] == 200 for a in saved["answers"])
    scoring = next(a for a in saved["answers"] if a["path"] == "/scoring")["body"]
    assert scoring["model_version"] == "v0001"
    text = (folder / "apireturns.txt").read_text()
    assert "== GET /scoring -> 200" in text and "f1" in text


def test_server_not_up_is_one_line_and_exit_1(deployed, workspace):
    """With nothing listening, apicalls prints one clear error line and exits 1."""
    url = f"http://127.0.0.1:{free_port()}"
    done = run_script("apicalls.py", "--config", str(workspace / "config.json"), "--url", url)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "not reachable" in lines[0] and url in lines[0]
    assert not (deployed["output_model_path"] / "apireturns.txt").exists()


def test_failed_calls_are_saved_and_reported(config):
    """A server without a model: the answers are saved and the run fails naming the calls."""
    from werkzeug.serving import make_server

    from risk_assessment.server.app import create_app

    port = free_port()
    httpd = make_server("127.0.0.1", port, create_app(config))

    thread = threading.Thread(target=httpd.serve_forever)
    thread.start()
    try:
        with pytest.raises(RiskError, match="GET /health 503"):
            apicalls.run_apicalls(config, f"http://127.0.0.1:{port}")
    finally:
        httpd.shutdown()
        thread.join()
    saved = json.loads((config["output_model_path"] / "apireturns.json").read_text())
    assert saved["answers"][0]["status"] == 503


def test_fullprocess_warns_when_the_api_serves_another_deployment(
    deployed, tmp_path_factory, caplog
):
    """After a deployment, an API at base_url serving another model is named in a warning."""
    from werkzeug.serving import make_server

    from risk_assessment.core.settings import load_config
    from risk_assessment.pipeline import run as fullprocess
    from risk_assessment.server.app import create_app

    port = free_port()
    server = make_server("127.0.0.1", port, create_app(deployed))  # the other deployment
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        other = tmp_path_factory.mktemp("other")
        write_csv(other / "practicedata" / "d.csv", small_rows(30, 500))
        write_csv(other / "testdata" / "testdata.csv", small_rows(15, 100))
        settings = {
            "input_folder_path": "practicedata",
            "output_folder_path": "ingesteddata",
            "test_data_path": "testdata",
            "output_model_path": "models",
            "prod_deployment_path": "production_deployment",
            "diagnostics": {"package_index_url": "http://127.0.0.1:9/pypi"},
            "api": {"base_url": f"http://127.0.0.1:{port}"},
        }
        (other / "config.json").write_text(json.dumps(settings))
        run = fullprocess.run_once(load_config(other / "config.json"))
    finally:
        server.shutdown()
        thread.join()
    assert run.new_version == "v0001"
    assert "another deployment?" in caplog.text and "answers not saved" in caplog.text
    assert not (other / "models" / "apireturns.json").exists()


def test_apicalls_saves_nothing_from_a_server_of_another_deployment(server, tmp_path):
    """A server serving another model: one line naming both, exit 1, nothing written."""
    from tests import conftest

    other = tmp_path / "other"
    conftest.write_csv(other / "practicedata" / "d.csv", conftest.small_rows(30, 500))
    conftest.write_csv(other / "testdata" / "testdata.csv", conftest.small_rows(15, 100))
    settings = {**conftest.SHIPPED_CONFIG, "ingestion": {"settle_seconds": 0}}
    (other / "config.json").write_text(json.dumps(settings))
    from risk_assessment.core.settings import load_config

    conftest.deploy_workspace(load_config(other / "config.json"))
    done = run_script("apicalls.py", "--config", str(other / "config.json"), "--url", server)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "another deployment?" in lines[0], done.stderr
    assert "serves model v0001" in lines[0] and str(other / "production_deployment") in lines[0]
    assert not list((other / "practicemodels").glob("apireturns.*"))


def test_apicalls_imports_no_script_and_no_heavy_package():
    """apicalls.py --help loads neither pandas, scikit-learn nor reportlab, nor a script."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "apicalls.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    loaded = {ln.rsplit("|", 1)[-1].strip() for ln in done.stderr.splitlines() if "|" in ln}
    assert "requests" in loaded and "risk_assessment.core.common" in loaded
    heavy = {m for m in loaded if m.split(".")[0] in {"pandas", "sklearn", "reportlab", "numpy"}}
    scripts = {"scoring", "ingestion", "training", "deployment", "diagnostics", "reporting", "app"}
    assert heavy == set() and not loaded & scripts


def test_apicalls_sends_the_token_from_the_environment(deployed, workspace):
    """Users exist: without $RISK_API_TOKEN one line names the variable and the command;
    with a predict,read token every call answers 200 and the token is saved nowhere."""
    from tests.conftest import add_token, add_user

    add_user(deployed, "ada", "admin")
    token = add_token(deployed, "apicalls", "predict,read")
    config = str(workspace / "config.json")
    with production_server(workspace / "config.json") as url:
        refused = run_script("apicalls.py", "--config", config, "--url", url)
        done = run_script(
            "apicalls.py", "--config", config, "--url", url, env={"RISK_API_TOKEN": token}
        )
    assert refused.returncode == 1 and "RISK_API_TOKEN" in refused.stderr
    assert "tokens create apicalls" in refused.stderr and "Traceback" not in refused.stderr
    assert done.returncode == 0, done.stderr
    folder = deployed["output_model_path"]
    saved = json.loads((folder / "apireturns.json").read_text())
    assert all(a["status"] == 200 for a in saved["answers"])
    written = (folder / "apireturns.json").read_text() + (folder / "apireturns.txt").read_text()
    assert token not in written + done.stderr
