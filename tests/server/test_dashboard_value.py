"""dashboard.py with a schema's value column: the risk list's CSV download."""

from __future__ import annotations

import io

import pandas as pd

from risk_assessment.core.columns import DEFAULT_SCHEMA
from risk_assessment.server.app import create_app
from tests.conftest import HEADER, configure, deploy_workspace, small_rows, write_csv


def with_value(rows: list[tuple], start: int) -> list[tuple]:
    """Rows with a contract value (what the client is worth) after the target."""
    return [(*row, f"{1000 + 37.5 * (start + i):.2f}") for i, row in enumerate(rows)]


def test_the_csv_download_holds_the_value_and_the_value_at_risk(workspace):
    """/risk?format=csv&sort=value (the download of the list ordered by value at risk)
    holds the value column and value_at_risk, as /risk's JSON and risk_scores.csv do
    (before: neither, so the spreadsheet was ordered by a number it did not show)."""
    header = f"{HEADER},contract"
    for name, start in (("dataset1.csv", 0), ("dataset2.csv", 20)):
        rows = with_value(small_rows(20, start), start)
        write_csv(workspace / "practicedata" / name, rows, header)
    write_csv(workspace / "testdata" / "testdata.csv", with_value(small_rows(15, 100), 100), header)
    config = configure(workspace, schema={**DEFAULT_SCHEMA.to_dict(), "value": "contract"})
    deploy_workspace(config)
    client = create_app(config).test_client()
    answer = client.get("/risk?format=csv&sort=value")
    assert answer.status_code == 200
    table = pd.read_csv(io.StringIO(answer.get_data(as_text=True)))
    listed = client.get("/risk?sort=value&top=1000").get_json()["clients"]
    assert table["value_at_risk"].tolist() == [c["value_at_risk"] for c in listed]
    assert table["value_at_risk"].is_monotonic_decreasing
    assert (table["value_at_risk"] <= table["contract"]).all()
