"""From clone to cron, as a new user would: the README's commands, as written, on a fresh
clone (slow: it runs `make run`, `make test`, the server, and the job again)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import requests

from risk_assessment.pipeline import cron
from tests.conftest import ROOT, SHIPPED_CONFIG, free_port, production_server
from tests.test_readme import readme_commands

OLD = 946684800  # 2000-01-01: the clone's requirements are older than the shared .venv


def sh(clone, command: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a README command in the clone as the README says: .venv activated first."""
    env = {k: v for k, v in os.environ.items() if k not in ("RISK_CONFIG", "VIRTUAL_ENV")}
    return subprocess.run(
        ["bash", "-c", f". .venv/bin/activate && {command}"],
        cwd=clone,
        env={**env, "NO_PROXY": "127.0.0.1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(clone, command: str, timeout: float = 600) -> str:
    """Run a command that must succeed; its stdout."""
    done = sh(clone, command, timeout)
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def live(clone) -> str:
    """The live version of the clone's deployment."""
    return os.readlink(clone / "production_deployment" / "current").rsplit("/", 1)[-1]


@pytest.fixture
def clone(tmp_path):
    """A git clone of this checkout's HEAD in a folder with a space in its name, sharing
    this checkout's .venv (a symlink, so `make` finds it installed instead of
    reinstalling), configured offline: no package index, the API on a free port."""
    folder = tmp_path / "risk clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(folder)], check=True)
    (folder / ".venv").symlink_to((ROOT / ".venv").resolve())
    for name in ("requirements.txt", "requirements-dev.txt"):
        os.utime(folder / name, (OLD, OLD))
    port = free_port()
    config = {
        **SHIPPED_CONFIG,
        "diagnostics": {"package_index_url": "http://127.0.0.1:9/pypi", "index_timeout_seconds": 1},
        "api": {"base_url": f"http://127.0.0.1:{port}"},
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder, port


@pytest.mark.slow
def test_readme_commands_from_clone_to_cron(clone):
    """make run, make test, make serve, the curl examples, --history, --list, --to,
    --rollback, and the cron line under env -i, in the order a new user would go."""
    clone, port = clone
    makes = readme_commands("make ")
    assert {"make run", "make test"} <= set(makes)
    out = ok(clone, "make run")
    assert "make serve" in out and live(clone) == "v0001"
    ok(clone, "make test", timeout=3000)
    with production_server(None, via_make=True, project=clone, port=port) as url:
        for command in readme_commands("curl "):
            here = command.replace("localhost:8000", url.removeprefix("http://"))
            status = ok(clone, here + " -o /dev/null -w '%{http_code}'")
            assert status == "200", command
        ok(clone, "python apicalls.py")  # the server serves this deployment
        assert "deployed" in ok(clone, "python fullprocess.py --history 20")
        assert "*" in ok(clone, "python deployment.py --list")
        # "To run on the source data, point input_folder_path at sourcedata and
        # output_model_path at models": drift, retrain, v0002
        config = json.loads((clone / "config.json").read_text())
        config.update(input_folder_path="sourcedata", output_model_path="models")
        (clone / "config.json").write_text(json.dumps(config))
        ok(clone, "python fullprocess.py")
        assert live(clone) == "v0002"
        python = [c for c in readme_commands("python ") if "deployment.py" in c]
        for command, expected in (
            ("python deployment.py --rollback", "v0001"),
            ("python deployment.py --to v0002", "v0002"),
        ):
            assert command in python
            ok(clone, command)
            assert live(clone) == expected
            assert requests.get(f"{url}/version", timeout=10).json()["model_version"] == expected
    line = ok(clone, "make -s cronline").strip()
    done = cron.run_like_cron(line, str(clone.parent))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert (clone / "logs" / "cron.log").read_text() == ""  # nothing new: INFO only, quiet
    assert "no new data" in (clone / "ingesteddata" / "fullprocess.log").read_text()
    report = clone / "models" / "summary_report.pdf"
    assert report.exists()
    ok(clone, "make clean")  # rebuildable things only
    assert live(clone) == "v0002" and not report.exists()
    assert (clone / "ingesteddata" / "store.db").exists()
    ok(clone, "make reset CRONTAB=true")  # `true`: no crontab is touched
    assert not (clone / "production_deployment").exists() and (clone / ".venv").exists()
    assert not (clone / "ingesteddata").exists() and (clone / "practicedata").exists()
    assert not (clone / "production_deployment.key").exists()
