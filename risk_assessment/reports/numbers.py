"""One set of numbers: each count the dashboard, the PDF, /summarystats and the history
show is computed here, once, from the store and the live model's records.

rows_kept      valid rows ever ingested (labelled or not, repeats included)
rows_new       of those, rows not seen before (the store's observations without repeats)
rows_rejected  rows dropped as invalid, and every row of a rejected file
labelled_rows  the training set (finaldata.csv): labelled observations the schema can read
trained_on     rows the live model was fitted on (a window of the training set)
held_out       rows held out from its training to decide on its deployment (0 for the
               first model, which the test data decided)
current_clients  clients on the risk list (latest observation not exited)
rows_not_trained stored rows that lack a column the current schema needs (stored under an
               earlier schema): kept, never trained on or scored (store/lookups.py)
"""

from __future__ import annotations

from typing import Any

from risk_assessment.store import lookups

LABELS = {
    "rows_kept": "rows kept (valid rows ingested)",
    "rows_new": "new rows (repeats left out)",
    "rows_rejected": "rows rejected",
    "labelled_rows": "labelled rows (the training set)",
    "trained_on": "rows the model was trained on",
    "held_out": "rows held out to decide its deployment",
    "current_clients": "current clients (on the risk list)",
    "rows_not_trained": "rows kept, not trained on",
}


def counts(
    config: dict[str, Any],
    meta: dict[str, Any],
    run: dict[str, Any] | None,
    current_clients: int,
    not_trained: int = 0,
) -> dict[str, int]:
    """The counts above, in LABELS order. meta: the live model's trainedmodel.json; run:
    the run that deployed it (None when deployed by hand); not_trained: rows_not_trained
    (lookups.not_trained, whose columns the sentence beside the counts names)."""
    totals = lookups.source_totals(config["output_folder_path"], config["schema"])
    gate = (run or {}).get("gate") or {}
    return {
        "rows_kept": totals["rows_kept"],
        "rows_new": totals["rows_new"],
        "rows_rejected": totals["rows_rejected"],
        "labelled_rows": totals["labelled_rows"],
        "trained_on": int(meta.get("rows") or 0),
        "held_out": int(gate.get("holdout_rows") or 0),
        "current_clients": int(current_clients),
        "rows_not_trained": int(not_trained),
    }


def counts_rows(numbers: dict[str, int]) -> list[list[str]]:
    """The counts as a two-column table for people, header first."""
    return [["count", "rows"]] + [[LABELS[k], f"{v:,}"] for k, v in numbers.items()]
