"""The admins' "did the calls help?" page on the store: clients listed unlabelled, some
contacted, then labelled; only admins see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from risk_assessment.server.app import create_app
from risk_assessment.store import accounts as rows
from risk_assessment.store import records as store
from tests.conftest import add_user, sign_in


def days_ago(days: float) -> str:
    """An ISO time days before now."""
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")


def batch(folder, name: str, rows_: list[tuple]) -> int:
    """Store rows as one ingested file (with the metrics ingestion records)."""
    metrics = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "seconds": 0.01}
    entry = {"name": name, "status": "ingested", "rows_read": len(rows_), "rows_kept": len(rows_)}
    metrics.update(files_ingested=[name], files_rejected=[], rows_read=len(rows_))
    return store.commit_batch(folder, [("file", entry, rows_)], metrics)


def list_then_label(folder, n: int = 200) -> None:
    """n current clients stored 10 days ago, even ones reached 5 days ago (odd ones only
    tried: "no answer"), labels stored now (every third client exited)."""
    clients = [(f"n{i:03d}", 10 + i % 50, 300 + 7 * i, 5 + i % 9) for i in range(n)]
    listed = batch(folder, "now.csv", [(*c, None) for c in clients])
    rows.write(folder, "UPDATE batches SET created_at = ? WHERE id = ?", (days_ago(10), listed))
    for i, client in enumerate(clients):
        rows.add_contact(folder, client[0], "max", "reached" if i % 2 == 0 else "no answer", "")
    rows.write(folder, "UPDATE contacts SET at = ?", (days_ago(5),))
    labels = [(*c, int(i % 3 == 0)) for i, c in enumerate(clients)]
    batch(folder, "later.csv", labels)


def test_admins_see_the_comparison_with_its_interval_and_caveat(deployed):
    """Reached clients count as contacted, "no answer" ones do not; JSON and the page."""
    folder = deployed["output_folder_path"]
    admin = add_user(deployed, "ada", "admin")
    viewer = add_user(deployed, "vic", "viewer")
    client = create_app(deployed).test_client()
    sign_in(client, "ada", admin)
    assert client.get("/admin/calls?format=json").get_json()["effect"] is None
    list_then_label(folder)
    found = client.get("/admin/calls?format=json").get_json()
    assert (found["contacted"], found["not_contacted"]) == (100, 100)
    assert found["low"] <= found["effect"] <= found["high"]
    assert "not assigned at random" in found["caveat"]
    page = client.get("/admin/calls").get_data(as_text=True)
    assert "Did the calls help?" in page and "interval" in page and "Caveat" in page
    other = create_app(deployed).test_client()
    sign_in(other, "vic", viewer)
    assert other.get("/admin/calls").status_code == 403
