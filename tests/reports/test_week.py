"""week.py: the model-change facts of the dashboard and the PDF's first page."""

from __future__ import annotations

from risk_assessment.reports import reporting
from risk_assessment.server.app import create_app
from tests.conftest import deploy_renamed


def test_a_predecessor_of_other_columns_is_not_compared(workspace):
    """number_of_employees renamed to employees (the old header mapped by an alias) and
    v0002 deployed on the new columns: the report and the dashboard leave out the move
    from v0001, whose model reads a column today's rows lack (before: ValueError "columns
    are missing", reporting failed and the dashboard answered 500); so does a client's
    page, which ranks the client under the last versions."""
    config = deploy_renamed(workspace)
    written = reporting.run_reporting(config)
    assert all(path.stat().st_size > 0 for path in written.values())
    client = create_app(config).test_client()
    page = client.get("/")
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    assert "v0002" in page.get_data(as_text=True)
    client_page = client.get("/client/c300")  # ranks under the last versions: v0002 only
    assert client_page.status_code == 200, client_page.get_data(as_text=True)[:300]


def test_the_calls_are_ordered_by_the_value_columns_words():
    """ "ordered by value at risk (...)" names the value column by its label when the
    schema gives one, by its name otherwise, and by exit probability without a value."""
    from risk_assessment.core.columns import parse_schema
    from risk_assessment.reports.week import ordered_by

    spec = {"id": "acct", "target": "churn", "features": {"seats": {"type": "integer"}}}
    labelled = parse_schema({**spec, "value": {"column": "acv", "label": "contract value"}})
    assert ordered_by({"schema": labelled}, "acv") == "value at risk (contract value)"
    named = parse_schema({**spec, "value": "acv"})
    assert ordered_by({"schema": named}, "acv") == "value at risk (acv)"
    assert ordered_by({"schema": named}, None) == "exit probability"
