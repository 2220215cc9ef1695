"""Shared fixtures: a temporary workspace per test, with real CSV files and config.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from risk_assessment.core.columns import DEFAULT_SCHEMA
from risk_assessment.core.settings import load_config

ROOT = Path(__file__).resolve().parents[1]
# The tests run make themselves (cronline, serve, the Makefile's targets): started from
# another make (CI's `make test-slow`, a clone's `make test`), they would inherit its
# flags and print "make[2]: Entering directory" into what they read.
for _name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
    os.environ.pop(_name, None)

# The default schema's columns (the course's five), for the tests written against them.
ID_COLUMN, TARGET = DEFAULT_SCHEMA.id, DEFAULT_SCHEMA.target.column
FEATURES = DEFAULT_SCHEMA.feature_names
COLUMNS = DEFAULT_SCHEMA.columns
HEADER = ",".join(COLUMNS)


def write_csv(path: Path, rows: list[tuple], header: str = HEADER) -> Path:
    """Write rows under header as a CSV file (creating folders); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def small_rows(n: int = 20, start: int = 0) -> list[tuple]:
    """n valid, learnable rows: low activity exits. Ids are unique per start offset."""
    rows = []
    for i in range(start, start + n):
        exited = i % 3 == 0
        lastmonth = 5 + i % 7 if exited else 100 + 13 * (i % 11)
        rows.append((f"c{i:03d}", lastmonth, 20 * lastmonth + i, 10 + i % 5, int(exited)))
    return rows


def make_workspace(folder: Path) -> Path:
    """Small input, test data and a config.json using relative paths, in folder; returns it."""
    write_csv(folder / "practicedata" / "dataset1.csv", small_rows(20, 0))
    write_csv(folder / "practicedata" / "dataset2.csv", small_rows(20, 20))
    write_csv(folder / "testdata" / "testdata.csv", small_rows(15, 100))
    config = {
        "input_folder_path": "practicedata",
        "output_folder_path": "ingesteddata",
        "test_data_path": "testdata",
        "output_model_path": "models",
        "prod_deployment_path": "production_deployment",
        # tests never reach the internet: a closed local port stands for the index
        "diagnostics": {"package_index_url": "http://127.0.0.1:9/pypi", "index_timeout_seconds": 1},
        # tests write their files moments before ingesting them
        "ingestion": {"settle_seconds": 0},
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A project folder with small input, test data and a config.json using relative paths."""
    return make_workspace(tmp_path)


@pytest.fixture
def config(workspace: Path) -> dict:
    """The loaded config of the workspace."""
    return load_config(workspace / "config.json")


# The shipped config.json's settings, written here: the suite never reads the checkout's
# own config.json, which the user may have edited (say, to the source data).
SHIPPED_CONFIG = {
    "input_folder_path": "practicedata",
    "output_folder_path": "ingesteddata",
    "test_data_path": "testdata",
    "output_model_path": "practicemodels",
    "prod_deployment_path": "production_deployment",
}


def copy_shipped(folder: Path) -> Path:
    """The shipped data and the shipped config into folder; returns folder."""
    for name in ("practicedata", "sourcedata", "testdata"):
        shutil.copytree(ROOT / name, folder / name)
    (folder / "config.json").write_text(json.dumps(SHIPPED_CONFIG, indent=2), encoding="utf-8")
    return folder


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """A copy of the shipped data, with the shipped config, in a temporary project folder."""
    return copy_shipped(tmp_path)


def configure(folder: Path, **settings) -> dict:
    """Rewrite folder's config.json with settings, offline (closed index, no API); load it."""
    path = folder / "config.json"
    given = {**json.loads(path.read_text(encoding="utf-8")), **settings}
    # tests never reach the internet, and apicalls must find nothing listening
    given["diagnostics"] = {
        "package_index_url": "http://127.0.0.1:9/pypi",
        "index_timeout_seconds": 1,
    }
    given["api"] = {"base_url": f"http://127.0.0.1:{free_port()}"}
    # tests write their files moments before ingesting them
    given["ingestion"] = {"settle_seconds": 0, **given.get("ingestion", {})}
    path.write_text(json.dumps(given), encoding="utf-8")
    return load_config(path)


# The five folders of a test installation (relative to its config.json)
FOLDERS = {
    "input_folder_path": "in",
    "output_folder_path": "out",
    "test_data_path": "testdata",
    "output_model_path": "models",
    "prod_deployment_path": "prod",
}


def write_config(folder: Path, **settings) -> dict:
    """A config.json in folder naming FOLDERS and settings (e.g. schema=...), offline as
    configure() makes it; loaded."""
    path = folder / "config.json"
    path.write_text(json.dumps({**FOLDERS, **settings}), encoding="utf-8")
    return configure(folder)


def run_module(module: str, *args: str, cwd: Path | None = None, env: dict | None = None):
    """Run a package module as `python -m module`, in a subprocess; returns CompletedProcess."""
    import os
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd or ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_script(script: str, *args: str, cwd: Path | None = None, env: dict | None = None):
    """Run a project script as a user would, in a subprocess; returns CompletedProcess."""
    import os
    import subprocess

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def hold_writer_lock(folder: Path, who: str, seconds: float) -> subprocess.Popen:
    """A process that takes the workspace's writer lock as who, prints 'locked' once it
    holds it, and releases it after seconds (the caller waits for or kills it)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path;"
            "from risk_assessment.core.locking import WriterLock;"
            f"lock = WriterLock(Path({str(folder)!r}), {who!r});"
            f"assert lock.acquire(); print('locked', flush=True); time.sleep({seconds});"
            "lock.release()",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def deploy_workspace(config: dict) -> str:
    """Ingest, train, score and deploy the workspace's data; returns the version."""
    from risk_assessment.deployment import versions as deployment
    from risk_assessment.modelling import scoring, training
    from risk_assessment.sources import ingestion

    ingestion.run_ingestion(config)
    training.run_training(config)
    scoring.run_scoring(config)
    return deployment.deploy(config)


def deploy_renamed(workspace: Path) -> dict:
    """v0001 on the course's columns, then number_of_employees renamed to employees (an
    alias maps the old header) and v0002 deployed on the new columns; returns the config
    of the new schema."""
    config = configure(workspace)
    assert deploy_workspace(config) == "v0001"
    schema = DEFAULT_SCHEMA.to_dict()
    schema["features"]["employees"] = schema["features"].pop("number_of_employees")
    schema["aliases"] = {"number_of_employees": "employees"}
    config = configure(workspace, schema=schema)
    write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(30, 300))
    assert deploy_workspace(config) == "v0002"
    return config


def tree_state(folder: Path) -> dict[str, object]:
    """What each file under folder holds, by relative path: (size, mtime in ns), or for a
    SQLite database its rows (its -wal and -shm files change when it is only read)."""
    import sqlite3
    from contextlib import closing

    state: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_dir() or path.name.endswith(("-wal", "-shm")):
            continue
        if path.suffix == ".db":
            with closing(sqlite3.connect(path)) as db:
                state[str(path.relative_to(folder))] = list(db.iterdump())
        else:
            state[str(path.relative_to(folder))] = (path.lstat().st_size, path.lstat().st_mtime_ns)
    return state


def deployed_for(request, deploy=None):
    """The `deployed` fixture's body, for a module that deploys its own way: deploy(config)
    (which may return the config, reloaded) on the test's own workspace; or, for a test
    marked reads_deployment, the module's shared_deployed, failing the test if it changed
    a file or a store row there."""
    if not request.node.get_closest_marker("reads_deployment"):
        config = request.getfixturevalue("config")
        done = (deploy or deploy_workspace)(config)
        yield done if isinstance(done, dict) else config  # deploy may reload the config
        return
    own = {"workspace", "config", "tmp_path"} & set(request.fixturenames)
    if own:
        raise pytest.UsageError(f"{request.node.nodeid} reads the shared deployment: not {own}")
    shared = request.getfixturevalue("shared_deployed")
    if "app" in request.fixturenames:  # the app makes its session key and store on start
        request.getfixturevalue("shared_app")
    before = tree_state(shared["config_file"].parent)
    yield shared
    after = tree_state(shared["config_file"].parent)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        pytest.fail(f"{request.node.nodeid} is marked reads_deployment but changed {changed}")


@pytest.fixture
def deployed(request):
    """The workspace with a model deployed as v0001 (a test marked reads_deployment gets
    the module's shared deployment instead)."""
    yield from deployed_for(request)


@pytest.fixture(scope="module")
def shared_deployed(tmp_path_factory) -> dict:
    """A deployed workspace (as `deployed`) built once per module, for the module's tests
    marked reads_deployment."""
    return shared_deployment(tmp_path_factory)


def shared_deployment(tmp_path_factory, deploy=None) -> dict:
    """A workspace in a new folder, deployed by deploy(config) (default deploy_workspace;
    it may return the config, reloaded); its config, for a module's shared_deployed."""
    folder = make_workspace(tmp_path_factory.mktemp("shared"))
    config = load_config(folder / "config.json")
    done = (deploy or deploy_workspace)(config)
    return done if isinstance(done, dict) else config


@pytest.fixture(scope="module")
def shared_app(shared_deployed: dict):
    """The real Flask app over the module's shared deployment."""
    from risk_assessment.server.app import create_app

    return create_app(shared_deployed)


@contextmanager
def production_server(
    config_file: Path | None,
    via_make: bool = False,
    project: Path = ROOT,
    port: int = 0,
    host: str = "127.0.0.1",
):
    """gunicorn serving wsgi:app of project for config_file (None: the project's own) on
    host (127.0.0.1 unless given) and a free port unless given, through `make serve` when
    via_make; yields the base URL (on 127.0.0.1), stops the server on exit."""
    import os
    import signal
    import subprocess
    import time

    import requests

    port = port or free_port()
    command = (
        ["make", "-s", "serve", f"PORT={port}", "WORKERS=1"]
        if via_make
        else [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "wsgi:app"]
    )
    env = {**os.environ, "NO_PROXY": "127.0.0.1"}
    env.pop("RISK_CONFIG", None)
    if config_file:
        env["RISK_CONFIG"] = str(config_file)
    proc = subprocess.Popen(
        command,
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # make and its gunicorn: one group, stopped together
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening or still booting
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {proc.stderr.read()}")
            time.sleep(0.2)
        yield url
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        proc.stderr.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app(request, deployed: dict):
    """The real Flask app over the deployed workspace (over the module's shared one, built
    once, for a test marked reads_deployment)."""
    from risk_assessment.server.app import create_app

    if request.node.get_closest_marker("reads_deployment"):
        return request.getfixturevalue("shared_app")
    return create_app(deployed)


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def reportable(deployed: dict) -> dict:
    """A deployed workspace with a fresh dependency cache, so reporting asks no index."""
    from risk_assessment.core.common import now_iso

    package = {
        "package": "pandas",
        "pinned": "3.1.1",
        "installed": "3.1.1",
        "latest": None,
        "latest_unknown_reason": "index unreachable",
        "outdated": None,
    }
    cache = {
        "checked_at": now_iso(),
        "packages": [package],
        "index_url": deployed["diagnostics"]["package_index_url"],
    }
    (deployed["output_model_path"] / "dependencies.json").write_text(json.dumps(cache))
    return deployed


# ---- users, tokens and sessions (access control) ------------------------------------------


def add_user(config: dict, name: str, role: str, password: str | None = None) -> str:
    """A user of role in config's store; returns the password (default: NAME-password)."""
    from risk_assessment.access import accounts
    from risk_assessment.store import accounts as rows

    password = password or f"{name}-password"
    rows.add_user(config["output_folder_path"], name, role, accounts.hash_password(password))
    return password


def add_token(config: dict, name: str, scopes: str, days: float = 30) -> str:
    """A service token with scopes (comma-separated) in config's store; returns it."""
    from risk_assessment.access import accounts
    from risk_assessment.store import accounts as rows

    token = accounts.new_token()
    expires = accounts.expiry(days)
    folder = config["output_folder_path"]
    rows.add_token(folder, name, accounts.token_sha256(token), scopes.split(","), expires)
    return token


def page_csrf(client, path: str = "/login") -> str:
    """The CSRF token in the <meta name="csrf-token"> of the page at path."""
    import re

    page = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def sign_in(client, name: str, password: str):
    """Sign in through the form (with its CSRF token); returns the answer (303 when in)."""
    token = page_csrf(client)
    form = {"username": name, "password": password, "csrf_token": token}
    return client.post("/login", data=form)
