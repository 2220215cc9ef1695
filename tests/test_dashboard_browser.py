"""The dashboard in a real headless Chromium: it renders, with no console messages."""

from __future__ import annotations

import shutil
import subprocess
import threading

import pytest
from conftest import free_port
from werkzeug.serving import make_server

from app import create_app

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# The flags that keep Chromium off the network in a closed sandbox (see README).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def browser() -> str:
    """The path of a Chromium binary, or skip the test saying why."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run does)")


@pytest.fixture
def served(deployed):
    """The real app on a free port of 127.0.0.1, served by werkzeug in a thread."""
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(deployed))
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{port}/"
    server.shutdown()
    thread.join()


def chromium(url: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium once on url with a fresh profile."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [browser(), *FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("size", ["1280,1800", "390,1800"], ids=["laptop", "phone"])
def test_dashboard_renders_without_console_messages(served, tmp_path, size):
    """Chromium draws the page (screenshot) and logs no console message: no JS error,
    no failed resource, no external request."""
    shot = tmp_path / f"dashboard-{size.split(',')[0]}.png"
    done = chromium(served, tmp_path, f"--window-size={size}", f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 20_000, done.stderr[-2000:]
    console = [ln for ln in done.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == []


def test_dashboard_dom_holds_the_key_figures(served, deployed, tmp_path):
    """The DOM Chromium built holds the version, the risk table and the history plot."""
    done = chromium(served, tmp_path, "--dump-dom")
    dom = done.stdout
    assert "Attrition risk dashboard" in dom and "v0001" in dom
    assert "<svg" in dom and "Clients most likely to exit" in dom
    assert dom.count('class="band ') >= 1
