"""The dashboard in a real headless Chromium, driven over the DevTools protocol (a pipe,
standard library only): at a laptop's and a phone's size the risk list is above the fold,
no element overflows its box, the CSV download matches the filter, a client page opens,
and no console message appears. Screenshots are saved in the test's tmp_path."""

from __future__ import annotations

import base64
import csv
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import threading
import time
import urllib.request

import pytest
from werkzeug.serving import make_server

from risk_assessment.core.common import now_iso
from risk_assessment.reports import reporting
from risk_assessment.server.app import create_app
from risk_assessment.store import records as store
from tests.conftest import free_port

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
    "--remote-debugging-pipe",
]
SIZES = {"laptop": (1366, 900), "phone": (390, 844)}
CONSOLE_EVENTS = ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")

# Layout facts measured in the page: the first client row's box, and every element that
# is wider than its box or reaches past the viewport's right edge.
MEASURE = """(() => {
  const row = document.querySelector('table.risk tbody tr');
  const box = row ? row.getBoundingClientRect() : null;
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') && el.tagName !== 'svg') continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const r = el.getBoundingClientRect();
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className : '';
    const name = el.tagName + cls + ' ' + (el.textContent || '').trim().slice(0, 40);
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1
        && !['auto', 'scroll'].includes(style.overflowX)) bad.push('wider than its box: ' + name);
    if (r.width > 0 && r.right > innerWidth + 1) bad.push('past the right edge: ' + name);
  }
  return {rowTop: box && box.top, rowBottom: box && box.bottom, height: innerHeight,
          width: innerWidth, pageWidth: document.documentElement.scrollWidth, bad: bad,
          title: document.title, download: (document.getElementById('download') || {}).href,
          ids: [...document.querySelectorAll('#risk td.id a')].map(a => a.textContent)};
})()"""


def browser() -> str:
    """The path of a Chromium binary, or skip the test saying why."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run does)")


def high_fd(fd: int) -> int:
    """The same pipe end on a file descriptor of 10 or more (the original is closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Chromium:
    """Headless Chromium spoken to over --remote-debugging-pipe (fd 3 in, fd 4 out)."""

    def __init__(self, profile):
        to_chrome, self.out = os.pipe()
        self.inp, from_chrome = os.pipe()
        to_chrome, from_chrome = high_fd(to_chrome), high_fd(from_chrome)  # not 3 or 4
        shell = f'exec "$0" "$@" 3<&{to_chrome} 4>&{from_chrome}'  # bash: fds above 9
        self.proc = subprocess.Popen(
            ["bash", "-c", shell, browser(), *FLAGS, f"--user-data-dir={profile}"],
            pass_fds=(to_chrome, from_chrome),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome)
        os.close(from_chrome)
        self.buf, self.next_id, self.events = b"", 0, []

    def read(self, timeout: float = 30.0) -> dict:
        """The next message from the browser."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.inp], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.inp, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self.buf += chunk
        message, _, self.buf = self.buf.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Call a DevTools method and return its result (events met on the way are kept)."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.out, json.dumps(message).encode() + b"\0")
        while True:
            answer = self.read()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait(self, method: str) -> dict:
        """Wait for an event (one already received counts)."""
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self.read()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self) -> None:
        """Stop the browser."""
        self.proc.terminate()
        self.proc.wait(timeout=30)
        os.close(self.out)
        os.close(self.inp)


class Tab:
    """One page of the browser at a given size, collecting console messages."""

    def __init__(self, chrome: Chromium, size: tuple[int, int]):
        self.chrome = chrome
        target = chrome.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = chrome.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        width, height = size
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )

    def call(self, method: str, params: dict | None = None) -> dict:
        """A DevTools call in this tab."""
        return self.chrome.send(method, params, self.session)

    def open(self, url: str) -> dict:
        """Load url and return the page's measurements."""
        self.call("Page.navigate", {"url": url})
        self.chrome.wait("Page.loadEventFired")
        return self.evaluate(MEASURE)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        return self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})[
            "result"
        ].get("value")

    def screenshot(self, path) -> None:
        """Save what the viewport shows as a PNG."""
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot")["data"]))

    def console(self) -> list[dict]:
        """Console messages, exceptions and log entries seen so far."""
        return [e for e in self.chrome.events if e.get("method") in CONSOLE_EVENTS]


@pytest.fixture
def served(deployed):
    """The real app on a free port of 127.0.0.1 (werkzeug in a thread), with a recorded
    run, a written report and risk list, so every part of the page has content."""
    run = store.Run(
        new_files=["dataset9.csv"],
        new_rows=60,
        deployed_version="v0001",
        batch_f1=0.61,
        batch_f1_low=0.5,
        batch_f1_high=0.72,
        data_drift_psi={
            "lastmonth_activity": 0.02,
            "lastyear_activity": 0.15,
            "number_of_employees": 0.4,
        },
        decision="no drift",
        reason="batch F1 interval reaches the deployed F1 (a long reason that has to wrap "
        "on a phone rather than push the table out of its card)",
    )
    store.record_run(deployed["output_folder_path"], run)
    (deployed["output_model_path"] / "dependencies.json").write_text(
        json.dumps({"checked_at": now_iso(), "packages": []})  # fresh: no index asked
    )
    reporting.run_reporting(deployed)
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(deployed), threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def chrome(tmp_path):
    """A headless Chromium for the test."""
    instance = Chromium(tmp_path / "profile")
    yield instance
    instance.close()


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_risk_list_above_the_fold_and_nothing_overflows(served, chrome, tmp_path, size):
    """The first client row is fully visible without scrolling; no element is wider than
    its box or the screen; no console message."""
    tab = Tab(chrome, SIZES[size])
    page = tab.open(served + "/")
    tab.screenshot(tmp_path / f"dashboard-{size}.png")
    assert (page["width"], page["height"]) == SIZES[size]  # the page's viewport meta works
    assert page["rowTop"] is not None and page["rowBottom"] <= page["height"], page
    assert page["bad"] == [] and page["pageWidth"] <= page["width"], page["bad"]
    assert tab.console() == []


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_download_matches_the_filter_and_client_page_opens(served, chrome, tmp_path, size):
    """The Download CSV link of a filtered page gives exactly the clients of that filter;
    clicking a client opens its page, which fits the screen; no console message."""
    tab = Tab(chrome, SIZES[size])
    page = tab.open(served + "/?q=c0&band=low&sort=client")
    with urllib.request.urlopen(page["download"], timeout=30) as answer:
        rows = list(csv.DictReader(io.StringIO(answer.read().decode())))
    with urllib.request.urlopen(served + "/risk?top=1000&q=c0&band=low&sort=client") as answer:
        expected = [c["corporation"] for c in json.load(answer)["clients"]]
    assert [r["corporation"] for r in rows] == expected and expected
    assert all(r["risk_band"] == "low" and "c0" in r["corporation"] for r in rows)
    assert page["ids"] == expected[: len(page["ids"])]
    first = page["ids"][0]
    tab.evaluate("document.querySelector('#risk td.id a').click()")
    chrome.wait("Page.loadEventFired")
    client = tab.evaluate(MEASURE)
    tab.screenshot(tmp_path / f"client-{size}.png")
    assert first in client["title"] and client["bad"] == [], client
    assert tab.console() == []
