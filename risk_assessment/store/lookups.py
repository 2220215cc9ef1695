"""Small read-only lookups over the store for the pages people read: where and when each
of a client's observations arrived, what each batch's sources rejected, and the stored
rows the current schema cannot train on.

Standard library only, like records.py; reads through records.open_store.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

from risk_assessment.core.columns import ColumnSchema
from risk_assessment.store.readable import not_read, usable_sql
from risk_assessment.store.records import open_store, ready


def observation_sources(folder: Path, client: str) -> dict[int, dict[str, Any]]:
    """seq -> {"source": file or database batch name, "arrived": ISO time of its batch}
    of one client's observations; {} before the first ingestion."""
    if not ready(folder):
        return {}
    sql = (
        "SELECT o.seq, s.name, b.created_at FROM observations o "
        "JOIN sources s ON o.source_id = s.id LEFT JOIN batches b ON s.batch_id = b.id "
        "WHERE o.corporation = ? ORDER BY o.seq"  # the store's id column, whatever the schema
    )
    with closing(open_store(folder)) as db:
        rows = db.execute(sql, (client,)).fetchall()
    return {seq: {"source": name, "arrived": when} for seq, name, when in rows}


def rejections_by_batch(folder: Path, limit: int = 50) -> dict[int, dict[str, Any]]:
    """batch id -> {"batch", "files": [{"name", "error"}] rejected whole, "rows": rows
    dropped from kept files, "reasons": {reason: rows of those}, most first} for the last
    `limit` batches with something rejected."""
    if not ready(folder):
        return {}
    with closing(open_store(folder)) as db:
        rows = db.execute(
            "SELECT batch_id, name, status, entry FROM sources ORDER BY id DESC"
        ).fetchall()
    out: dict[int, dict[str, Any]] = {}
    for batch, name, status, entry in rows:
        e = json.loads(entry or "{}")
        dropped = int(e.get("rows_rejected") or 0)
        if status != "rejected" and not dropped:
            continue
        got = out.setdefault(batch, {"batch": batch, "files": [], "rows": 0, "reasons": {}})
        if status == "rejected":  # its error says why, with its reasons
            got["files"].insert(0, {"name": name, "error": e.get("error") or "rejected"})
            continue
        got["rows"] += dropped
        for reason, count in (e.get("reasons") or {}).items():
            got["reasons"][reason] = got["reasons"].get(reason, 0) + int(count)
        if len(out) > limit:
            break
    for got in out.values():
        got["reasons"] = dict(sorted(got["reasons"].items(), key=lambda kv: -kv[1]))
    return out


def source_totals(folder: Path, schema: ColumnSchema | None = None) -> dict[str, int]:
    """Rows read, kept, rejected, new and unlabelled, and files ingested and rejected, over
    every source ever seen (the store's sources), and the training set's labelled rows (of
    those the schema can read, when given); zeros before the first ingestion."""
    keys = ("rows_read", "rows_kept", "rows_rejected", "rows_new", "rows_unlabelled")
    totals = dict.fromkeys((*keys, "files_ingested", "files_rejected", "labelled_rows"), 0)
    if not ready(folder):
        return totals
    with closing(open_store(folder)) as db:
        rows = db.execute("SELECT status, entry FROM sources").fetchall()
        usable = f" AND {usable_sql(db, schema)}" if schema is not None else ""
        totals["labelled_rows"] = db.execute(  # the training set, as training_rows() reads it
            "SELECT COUNT(*) FROM observations o WHERE o.exited IS NOT NULL AND o.duplicate = 0"
            + usable
        ).fetchone()[0]
    for status, entry in rows:
        e = json.loads(entry or "{}")
        for key in keys:
            totals[key] += int(e.get(key) or 0)
        if status == "rejected":  # a rejected file's rows all count as rejected
            totals["rows_rejected"] += int(e.get("rows_read") or 0) - int(
                e.get("rows_rejected") or 0
            )
        totals["files_rejected" if status == "rejected" else "files_ingested"] += 1
    return totals


def not_trained(folder: Path, schema: ColumnSchema) -> dict[str, Any]:
    """{"rows": stored observations that lack a column the schema needs (kept, never
    trained on or scored; records.unusable_rows counts the same), "columns": those columns};
    one counting query, zero rows before the first ingestion."""
    if not ready(folder):
        return {"rows": 0, "columns": []}
    with closing(open_store(folder)) as db:
        rows, columns = not_read(db, schema)
    return {"rows": rows, "columns": columns}
