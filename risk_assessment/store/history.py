"""The run history: one row per fullprocess run in the runs table of store.db (idle ticks
folded into one row), read newest first by the dashboard, the report and the API.

A part of store.py (records re-exports these names); standard library only.
"""

from __future__ import annotations

import json
from typing import Any

from risk_assessment.core.common import now_iso

from risk_assessment.store.handle import Where, connection, ready
from risk_assessment.store.tables import (
    Run,
    decode_run,
    encode_run,
    insert_row,
    is_idle,
    is_idle_row,
    transaction,
)


def record_run(folder: Where, run: Run) -> int:
    """Append a run to the history; an idle run (no batch, no error) extends the last
    row when that row is idle too, so idle ticks never push real runs away."""
    run.ended_at = run.ended_at or now_iso()
    values = encode_run(run)
    with connection(folder) as db, transaction(db):
        last = db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if is_idle(run) and last is not None and is_idle_row(dict(last)):
            ticks = int(json.loads(last["ticks"] or "1")) + 1
            db.execute(
                "UPDATE runs SET ended_at = ?, ticks = ? WHERE id = ?",
                (run.ended_at, json.dumps(ticks), last["id"]),
            )
            return int(last["id"])
        return insert_row(db, "runs", values)


def read_history(folder: Where, limit: int = 20) -> list[dict[str, Any]]:
    """The last runs, newest first, decoded."""
    if not ready(folder):
        return []
    with connection(folder) as db:
        rows = db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [decode_run(dict(r)) for r in rows]


def last_judged_run(folder: Where) -> dict[str, Any] | None:
    """The newest run that judged a batch for drift, however long ago."""
    if not ready(folder):
        return None
    with connection(folder) as db:
        row = db.execute(
            "SELECT * FROM runs WHERE verdict IS NOT NULL OR model_drift IS NOT NULL "
            "OR data_drift_psi IS NOT NULL "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return decode_run(dict(row)) if row else None


def prune_history(folder: Where, keep_days: float) -> int:
    """Delete history rows older than keep_days (judged or not); returns how many."""
    from datetime import UTC, datetime, timedelta

    cutoff = (datetime.now(UTC) - timedelta(days=keep_days)).isoformat(timespec="seconds")
    with connection(folder) as db, transaction(db):
        return db.execute("DELETE FROM runs WHERE started_at < ?", (cutoff,)).rowcount
