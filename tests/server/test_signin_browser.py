"""Signing in, recording a contact and signing out in a real headless Chromium (the
DevTools pipe of test_dashboard_browser.py): the wrong password keeps you out, the right
one lets you in, the contact form stores a note with markup that shows as text, sign-out
closes the pages again; no dialog and no console message but the wrong password's 401."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server

from risk_assessment.server.app import create_app
from risk_assessment.store import accounts as rows
from tests.conftest import add_user, free_port
from tests.server.test_dashboard_browser import Chromium, Tab

NOTE = '<img src=x onerror="alert(1)"> promised to renew'


@pytest.fixture
def served(deployed):
    """The real app with a manager 'max' on a free port of 127.0.0.1 (werkzeug thread)."""
    add_user(deployed, "max", "manager", "max-secret-1")
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(deployed), threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{port}", deployed
    server.shutdown()
    thread.join()


@pytest.fixture
def tab(tmp_path):
    """One laptop-sized tab of a headless Chromium."""
    chrome = Chromium(tmp_path / "profile")
    yield Tab(chrome, (1366, 900))
    chrome.close()


def submit(tab: Tab, selector: str, fields: dict[str, str]) -> dict:
    """Fill the form's fields, submit it like a click, wait for the next page; returns
    its location and text."""
    script = f"""(() => {{ const f = document.querySelector({json.dumps(selector)});
      for (const [k, v] of Object.entries({json.dumps(fields)})) f.elements[k].value = v;
      f.requestSubmit(); }})()"""
    tab.evaluate(script)
    tab.chrome.wait("Page.loadEventFired")
    return page_state(tab)


def page_state(tab: Tab) -> dict:
    """The page's path and visible text."""
    return tab.evaluate("({path: location.pathname, text: document.body.innerText})")


def test_sign_in_record_a_contact_and_sign_out(served, tab, tmp_path):
    """Wrong password: still the form, with the message; right one: the dashboard; a
    contact with markup is recorded and shown as text; sign-out: back to the form."""
    url, config = served
    tab.open(url + "/client/c001")
    assert page_state(tab)["path"] == "/login"
    wrong = submit(tab, "form.contact", {"username": "max", "password": "not-it-at-all"})
    assert wrong["path"] == "/login" and "Wrong user name or password." in wrong["text"]
    inside = submit(tab, "form.contact", {"username": "max", "password": "max-secret-1"})
    assert inside["path"] == "/client/c001" and "max (manager)" in inside["text"]
    done = submit(tab, "form.contact", {"outcome": "will stay", "note": NOTE})
    tab.screenshot(tmp_path / "contact.png")
    assert done["path"] == "/client/c001" and NOTE in done["text"]
    assert rows.contacts_of(config["output_folder_path"], "c001")[0]["note"] == NOTE
    out = submit(tab, "form.signout", {})
    assert out["path"] == "/login"
    tab.open(url + "/")
    assert page_state(tab)["path"] == "/login"
    events = [e.get("method") for e in tab.chrome.events]
    assert "Page.javascriptDialogOpening" not in events
    texts = [e["params"].get("entry", {}).get("text", "") for e in tab.console()]
    assert len(texts) == 1 and "401" in texts[0]  # the wrong password's answer, no other
