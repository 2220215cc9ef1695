"""The production server (gunicorn -c gunicorn.conf.py wsgi:app) and access control: it
refuses to listen beyond loopback without an admin, and with one it asks for sign-in or a
token on every route but /health; a token on every request, over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from risk_assessment.access.binding import bind_hosts
from tests.conftest import ROOT, add_token, add_user, free_port, production_server


def test_bind_hosts_reads_gunicorns_addresses():
    """Hosts of IPv4, IPv6 and bare binds; unix sockets are local."""
    binds = ["0.0.0.0:8000", "[::]:80", "127.0.0.1:1", "unix:/tmp/s", "example.org"]
    assert bind_hosts(binds) == ["0.0.0.0", "::", "127.0.0.1", "example.org"]


def test_gunicorn_on_all_addresses_without_an_admin_refuses_to_start(deployed):
    """Exit 1 within seconds, one line naming the command, no traceback."""
    env = {**os.environ, "RISK_CONFIG": str(deployed["config_file"])}
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", f"0.0.0.0:{free_port()}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "python app.py users add NAME --role admin" in done.stderr
    assert "Traceback" not in done.stderr


# a real gunicorn on 0.0.0.0, about 6 s: run by make test-slow; test_auth checks the same
# sign-in, token and scope answers through the app in make test
@pytest.mark.slow
def test_with_an_admin_it_serves_all_addresses_behind_sign_in(deployed):
    """An admin exists: the server starts on 0.0.0.0; /health answers anyone, /risk
    wants credentials, a read token gets the list, a predict token 403."""
    add_user(deployed, "ada", "admin")
    read, predict = add_token(deployed, "r", "read"), add_token(deployed, "p", "predict")
    with production_server(deployed["config_file"], host="0.0.0.0") as url:
        assert requests.get(f"{url}/health", timeout=10).status_code == 200
        answer = requests.get(f"{url}/risk", timeout=10)
        assert answer.status_code == 401 and answer.json()["error_code"] == "UNAUTHENTICATED"
        bearer = {"Authorization": f"Bearer {read}"}
        assert requests.get(f"{url}/risk", headers=bearer, timeout=10).status_code == 200
        bearer = {"Authorization": f"Bearer {predict}"}
        answer = requests.get(f"{url}/risk", headers=bearer, timeout=10)
        assert answer.status_code == 403 and answer.json()["error_code"] == "PERMISSION_DENIED"


def test_app_py_on_all_addresses_without_an_admin_refuses_to_start(deployed):
    """python app.py with api.host 0.0.0.0: exit 1, one line naming the command."""
    import json

    path = deployed["config_file"]
    given = json.loads(path.read_text())
    path.write_text(json.dumps({**given, "api": {"host": "0.0.0.0", "port": free_port()}}))
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "refusing to listen on 0.0.0.0" in done.stderr and "users add" in done.stderr
