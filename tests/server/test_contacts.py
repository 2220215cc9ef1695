"""The worklist through the real app: recording contacts (JSON, the client page's form),
listing them, bad contacts refused with nothing stored, notes with markup shown escaped,
the audit trail of client views and contacts, and the call list's rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from risk_assessment.server import contacts
from risk_assessment.server.app import create_app
from risk_assessment.store import accounts as rows
from tests.conftest import add_token, add_user, page_csrf, sign_in

MARKUP = '<script>alert("x")</script><b>bold</b> & more'


@pytest.fixture
def manager(deployed):
    """A test client signed in as the manager 'max', and its CSRF header."""
    password = add_user(deployed, "max", "manager")
    client = create_app(deployed).test_client()
    sign_in(client, "max", password)
    return client, {"X-CSRF-Token": page_csrf(client, "/")}


def stored(config: dict, corporation: str = "c001") -> list[dict]:
    """The contacts the store holds for corporation."""
    return rows.contacts_of(config["output_folder_path"], corporation)


def test_a_manager_records_a_contact_as_json_and_lists_it(deployed, manager):
    """201 with the stored contact (by, when, outcome, note); GET lists it newest first."""
    client, csrf = manager
    answer = client.post(
        "/risk/c001/contacts", json={"outcome": "at risk", "note": "call back"}, headers=csrf
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["actor"] == "max" and body["outcome"] == "at risk" and body["note"] == "call back"
    client.post("/risk/c001/contacts", json={"outcome": "reached"}, headers=csrf)
    listed = client.get("/risk/c001/contacts").get_json()
    assert [c["outcome"] for c in listed["contacts"]] == ["reached", "at risk"]
    audit = rows.audit_rows(deployed["output_folder_path"])
    assert (audit[0]["action"], audit[0]["target"]) == ("contact_recorded", "c001")


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"outcome": "maybe", "note": ""}, 400, "INVALID_PARAMETER_VALUE"),
        ({"outcome": "reached", "note": "x" * 1_000_000}, 400, "INVALID_PARAMETER_VALUE"),
        ({"outcome": "reached", "note": ["list"]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"outcome": "reached", "owner": "me"}, 400, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_a_bad_contact_is_refused_and_nothing_is_stored(deployed, manager, body, status, code):
    """An outcome outside the list, a 1 MB note, a wrong type, an extra key: 4xx JSON."""
    client, csrf = manager
    answer = client.post("/risk/c001/contacts", json=body, headers=csrf)
    assert answer.status_code == status and answer.get_json()["error_code"] == code
    assert len(answer.get_json()["message"]) < 300
    assert stored(deployed) == []


def test_a_contact_for_an_unknown_client_is_404(deployed, manager):
    """The documented code RESOURCE_DOES_NOT_EXIST, nothing stored."""
    client, csrf = manager
    answer = client.post("/risk/nobody/contacts", json={"outcome": "reached"}, headers=csrf)
    assert answer.status_code == 404
    assert answer.get_json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert client.get("/risk/nobody/contacts").status_code == 404
    assert stored(deployed, "nobody") == []


def test_a_session_without_the_csrf_header_or_a_viewer_cannot_record(deployed, manager):
    """No X-CSRF-Token: 403; a viewer with it: 403; neither stores anything."""
    client, _ = manager
    answer = client.post("/risk/c001/contacts", json={"outcome": "reached"})
    assert answer.status_code == 403 and "CSRF" in answer.get_json()["message"]
    password = add_user(deployed, "vic", "viewer")
    viewer = create_app(deployed).test_client()
    sign_in(viewer, "vic", password)
    csrf = {"X-CSRF-Token": page_csrf(viewer, "/")}
    answer = viewer.post("/risk/c001/contacts", json={"outcome": "reached"}, headers=csrf)
    assert answer.status_code == 403 and answer.get_json()["error_code"] == "PERMISSION_DENIED"
    assert viewer.get("/risk/c001/contacts").status_code == 200
    assert stored(deployed) == []


def test_a_token_with_scope_contacts_records_one_and_predict_cannot(deployed):
    """Scope contacts: 201 (no CSRF: a token is not a cookie); scope predict: 403."""
    add_user(deployed, "ada", "admin")
    token, other = add_token(deployed, "crm", "contacts"), add_token(deployed, "p", "predict")
    client = create_app(deployed).test_client()
    answer = client.post(
        "/risk/c002/contacts",
        json={"outcome": "leaving", "note": "moves to a rival"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201 and answer.get_json()["actor"] == "token:crm"
    answer = client.post(
        "/risk/c002/contacts",
        json={"outcome": "leaving"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert answer.status_code == 403
    assert [c["outcome"] for c in stored(deployed, "c002")] == ["leaving"]


def test_the_client_page_form_records_and_shows_markup_escaped(deployed, manager):
    """The form (csrf_token field) records a contact; the page shows the note as text."""
    client, _ = manager
    page = client.get("/client/c001").get_data(as_text=True)
    assert 'action="/client/c001/contacts"' in page and "Record contact" in page
    form = {"outcome": "will stay", "note": MARKUP, "csrf_token": page_csrf(client, "/client/c001")}
    answer = client.post("/client/c001/contacts", data=form)
    assert answer.status_code == 303 and answer.location == "/client/c001#contacts"
    assert stored(deployed)[0]["note"] == MARKUP  # stored as the text it is
    page = client.get("/client/c001").get_data(as_text=True)
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    )


def test_viewing_a_client_is_in_the_audit_trail(deployed, manager):
    """Each client page or JSON shown to a signed-in user: one audit row."""
    client, _ = manager
    assert client.get("/client/c003").status_code == 200
    audit = rows.audit_rows(deployed["output_folder_path"])
    assert (audit[0]["actor"], audit[0]["action"], audit[0]["target"]) == (
        "max",
        "client_viewed",
        "c003",
    )


def test_the_call_list_leaves_out_recent_contacts_and_names_owners(deployed):
    """open_call_list in the app: a reached client leaves, a no-answer stays with its
    owner, and a manager's own list holds their calls and the unowned ones."""
    app = create_app(deployed)
    folder = deployed["output_folder_path"]
    rows.add_contact(folder, "c001", "max", "reached", "")
    rows.add_contact(folder, "c002", "ann", "no answer", "")
    with app.test_request_context():
        calls = contacts.open_call_list(["c000", "c001", "c002"])
        assert [(c["corporation"], c["owner"]) for c in calls] == [("c000", None), ("c002", "ann")]
        mine = contacts.open_call_list(["c000", "c001", "c002"], owner="max")
        assert [c["corporation"] for c in mine] == ["c000"]
    old = (datetime.now(UTC) - timedelta(days=15)).isoformat(timespec="seconds")
    rows.write(folder, "UPDATE contacts SET at = ? WHERE corporation = 'c001'", (old,))
    with app.test_request_context():
        assert [c["corporation"] for c in contacts.open_call_list(["c001"])] == ["c001"]


def test_while_open_a_form_needs_its_csrf_token_and_json_does_not(deployed):
    """No user: another site cannot post the client page's form (403 without the token);
    a JSON body (which needs a CORS preflight from another site) is taken."""
    client = create_app(deployed).test_client()
    answer = client.post("/client/c001/contacts", data={"outcome": "reached"})
    assert answer.status_code == 403 and stored(deployed) == []
    form = {"outcome": "reached", "csrf_token": page_csrf(client, "/client/c001")}
    assert client.post("/client/c001/contacts", data=form).status_code == 303
    answer = client.post("/risk/c001/contacts", json={"outcome": "no answer"})
    assert answer.status_code == 201 and answer.get_json()["actor"] == "anonymous"
    assert [c["outcome"] for c in stored(deployed)] == ["no answer", "reached"]


def test_the_listed_summary_counts_the_periods_contacts(deployed):
    """Of three listed clients one was reached and one only tried in the last 14 days."""
    folder = deployed["output_folder_path"]
    rows.add_contact(folder, "c001", "max", "reached", "")
    rows.add_contact(folder, "c002", "ann", "no answer", "")
    with create_app(deployed).test_request_context():
        found = contacts.listed_summary(["c000", "c001", "c002"])
    assert (found["listed"], found["contacted"], found["attempted"], found["days"]) == (3, 1, 1, 14)
    assert found["outcomes"]["reached"] == 1
