"""This week's calls: the risk list cut to what the team can call, and what a new model did
to the bands, in one sentence.

A helper of the dashboard, /calls and the PDF (like risk.py): tables in, tables and
sentences out; reads or writes nothing. The call list is the `risk.calls_per_week`
current clients at the top of the list: highest value at risk first (exit probability
times the client's value) when the schema declares a value column the list carries,
else highest exit probability first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from risk_assessment.reports import risk

CALL_COLUMNS = [  # after call: the client id (the risk list's first column)
    "exit_probability",
    "risk_band",
    "top_reasons",
    "change",
    "rank",
    "previous_rank",
]
MANY_MOVED = 0.05  # a new model that moves this share of current clients gets the sentence


def value_column(listed: pd.DataFrame, schema) -> str | None:
    """The schema's value column when the list carries it, else None (order by risk)."""
    value = getattr(schema, "value", None)
    return value if value and value in listed.columns else None


def call_list(listed: pd.DataFrame, calls: int, value: str | None = None) -> pd.DataFrame:
    """The first `calls` clients to call: by value at risk when `value` names a column of
    the list, else by exit probability (the list's rank). Adds call (1, 2, ...),
    value_at_risk (with a value column) and on_last_list (was among the first `calls` of
    the previous list in the same order: previous_rank, risk.with_changes; None without a
    previous list)."""
    table = listed
    if value:
        worth = pd.to_numeric(listed[value], errors="coerce").fillna(0.0)
        at_risk = (listed["exit_probability"] * worth).round(2)  # as risk.risk_table
        table = risk.by_value_at_risk(listed.assign(value_at_risk=at_risk))
    chosen = table.head(calls).copy()
    chosen.insert(0, "call", np.arange(1, len(chosen) + 1))
    before = chosen.get("previous_rank")
    if before is None or before.isna().all():
        chosen["on_last_list"] = None
    else:
        chosen["on_last_list"] = before.le(calls).fillna(False).astype(bool)
    return chosen.reset_index(drop=True)


def call_change(row: dict[str, Any]) -> str:
    """What changed for one call since the previous list, in words: 'was #N' is its place
    on the previous list in the calls' order, when not its call; 'same place' when
    nothing changed; '' when there is no previous list to compare with."""
    parts = []
    if row.get("on_last_list") is False:
        parts.append("new on the list")
    before = row.get("previous_rank")
    known = before is not None and before == before
    if known and int(before) != int(row["call"]):
        parts.append(f"was #{int(before)}")
    if row.get("change"):
        parts.append(risk.CHANGES[row["change"]])
    return ", ".join(parts) or ("same place" if known else "")


def call_records(chosen: pd.DataFrame, top: int, schema) -> list[dict[str, Any]]:
    """The calls as JSON: the client record (reasons, contributions) plus call, previous
    rank (its place on the previous list in the calls' order), whether it was on the
    last list, and the change in words."""
    out = []
    for row in chosen.to_dict(orient="records"):
        record = {"call": int(row["call"]), **risk.client_record(row, top, schema)}
        before = row.get("previous_rank")
        record["previous_rank"] = None if before is None or before != before else int(before)
        record["on_last_list"] = row.get("on_last_list")
        record["change_text"] = call_change(row)
        if "value_at_risk" in row:
            record["value_at_risk"] = float(row["value_at_risk"])
        record["owner"] = row.get("owner")  # who has the call (None: nobody yet)
        out.append(record)
    return out


def calls_csv(chosen: pd.DataFrame) -> str:
    """The calls as a spreadsheet-safe CSV, the change in words."""
    table = chosen.assign(
        change=[call_change(r) for r in chosen.to_dict(orient="records")],
        previous_rank=chosen["previous_rank"].astype("Int64"),
    )
    ident = chosen.columns[1]  # call, then the risk list's id column
    columns = ["call", ident, *(c for c in CALL_COLUMNS if c in table.columns)]
    columns += [c for c in ("owner", "value_at_risk") if c in table.columns]
    return risk.people_csv(table[columns])


# ---- what a new model did to the bands -------------------------------------------------------


def moved_by_model(listed: pd.DataFrame, old: pd.DataFrame) -> int:
    """How many clients of the list the old model's list (same clients, same data) puts in
    another band: the moves due to the model alone."""
    ident = listed.columns[0]  # a risk table's first column is the client id
    before = listed[ident].map(dict(zip(old[old.columns[0]], old["risk_band"], strict=True)))
    return int((before.notna() & (before != listed["risk_band"])).sum())


def model_change_sentence(move: dict[str, Any] | None) -> str:
    """One sentence: the model changed, how many clients it moved, and why it was deployed.

    move: {"version", "previous", "deployed_at", "moved", "total", "why"}, or None.
    Empty when there is no previous model or it moved fewer than MANY_MOVED of the list.
    """
    if not move or move["moved"] < max(1, MANY_MOVED * move["total"]):
        return ""
    return (
        f"The model changed on {move['deployed_at'][:10]}: {move['version']} replaced "
        f"{move['previous']} because {move['why']}, and the new model alone moved "
        f"{move['moved']:,} of the {move['total']:,} current clients to another risk band."
    )
