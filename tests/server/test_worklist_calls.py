"""The call list is the worklist: a client a manager reached leaves this week's calls, a
call tried without an answer stays with its owner, and a manager's own list is one click."""

from __future__ import annotations

import pytest

from risk_assessment.server.app import create_app
from tests.conftest import add_user, page_csrf, sign_in
from tests.reports.test_risk import deployed  # noqa: F401 (the fixture: RISKY current clients)


@pytest.fixture
def max_client(deployed):  # noqa: F811
    """The real app with the manager 'max' signed in, and its CSRF header."""
    password = add_user(deployed, "max", "manager")
    client = create_app(deployed).test_client()
    assert sign_in(client, "max", password).status_code == 303
    return client, {"X-CSRF-Token": page_csrf(client, "/")}


def call_ids(client, query: str = "") -> list[str]:
    """The client ids of /calls, in order."""
    answer = client.get(f"/calls{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [c["corporation"] for c in answer.get_json()["calls"]]


def test_a_reached_client_leaves_the_calls_and_no_answer_keeps_its_owner(max_client):
    """After 'reached' the client is off /calls (and off the dashboard's first table);
    after 'no answer' it stays, owned by the manager who tried; ?mine=1 keeps it."""
    client, csrf = max_client
    first, second = call_ids(client)[:2]
    made = client.post(f"/risk/{first}/contacts", json={"outcome": "reached"}, headers=csrf)
    assert made.status_code == 201
    assert first not in call_ids(client) and second in call_ids(client)
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    table = page[page.index('id="calls-table"') :].split("</table>")[0]
    assert f">{first}<" not in table and f">{second}<" in table
    tried = client.post(f"/risk/{second}/contacts", json={"outcome": "no answer"}, headers=csrf)
    assert tried.status_code == 201
    calls = client.get("/calls").get_json()["calls"]
    owned = next(c for c in calls if c["corporation"] == second)
    assert owned["owner"] == "max"
    assert second in call_ids(client, "?mine=1")


def test_a_colleagues_call_is_not_on_my_list(deployed, max_client):  # noqa: F811
    """A call another manager tried is theirs: off max's own list, on the whole list."""
    client, _ = max_client
    password = add_user(deployed, "ann", "manager")
    ann = create_app(deployed).test_client()
    sign_in(ann, "ann", password)
    target = call_ids(client)[0]
    csrf = {"X-CSRF-Token": page_csrf(ann, "/")}
    assert (
        ann.post(
            f"/risk/{target}/contacts", json={"outcome": "no answer"}, headers=csrf
        ).status_code
        == 201
    )
    assert target in call_ids(client) and target not in call_ids(client, "?mine=1")
