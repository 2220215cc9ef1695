"""The risk list: current clients ranked by exit probability, with bands and plain reasons.

A helper module (like common.py), imported by reporting.py and the dashboard; it imports
no script and no plotting or PDF library, so the API's /risk stays light.

A reason is a feature pushing a client's risk up. Its contribution is the model's
coefficient times the client's standardized value, in the model's own transformed space
(after a log1p step, say): how far the feature moves the client's log-odds away from
those of a typical client of the training data. Signed numbers are kept for data
scientists (contribution_<feature>); people read a sentence per reason.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from risk_assessment.core.common import MODEL_META, read_json

import numpy as np
import pandas as pd

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.modelling.features import feature_words
from risk_assessment.reports.explain import (  # noqa: F401 (risk.contributions etc. for callers)
    contributions,
    explain,
    model_parts,
    profile_of,
)

BANDS = ("high", "medium", "low")
MIN_REASON = 0.005  # smaller contributions round to +0.00: not a reason worth showing
LIST_COLUMNS = ["exit_probability", "rank", "risk_band", "top_reasons"]  # after the id
# How strong a contribution (log-odds) reads; features read as their label (schema.words).
DEGREES = ((1.0, "far "), (0.3, ""), (0.0, "slightly "))


# ---- which clients ---------------------------------------------------------------------------


def current_clients(data: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA) -> pd.DataFrame:
    """The latest observation of each client that has not exited, in arrival order.

    Rows are in arrival order (ingestion and the store append). A client whose latest
    row says exited = 1 has left; a row with exited 0 or empty (unlabelled) is current.
    """
    latest = data.drop_duplicates(subset=schema.id, keep="last")
    if schema.target.column in latest.columns:
        target = latest[schema.target.column]
        exited = pd.to_numeric(target, errors="coerce").astype("Float64")
        latest = latest[~exited.eq(1).fillna(False).astype(bool)]  # <NA>: unlabelled, current
    return latest.reset_index(drop=True)


# ---- reasons in plain words ------------------------------------------------------------------


def reason_phrase(
    feature: str, contribution: float, above: bool, schema: ColumnSchema = DEFAULT_SCHEMA
) -> str:
    """'activity last month is far below average' for one positive contribution."""
    degree = next(word for low, word in DEGREES if contribution >= low)
    return f"{schema.words(feature)} is {degree}{'above' if above else 'below'} average"


def value_words(X: pd.DataFrame | None, schema: ColumnSchema) -> np.ndarray | None:
    """Per row and feature: 'industry is retail' for categories and booleans, else None."""
    if X is None or all(f.numeric for f in schema.features):
        return None
    words = np.full((len(X), len(schema.features)), None, dtype=object)
    for j, f in enumerate(schema.features):
        if not f.numeric:
            words[:, j] = [feature_words(f, v) for v in X[f.name].tolist()]
    return words


def reasons_per_row(
    contrib: np.ndarray,
    above: np.ndarray,
    top: int,
    schema: ColumnSchema = DEFAULT_SCHEMA,
    X: pd.DataFrame | None = None,
) -> np.ndarray:
    """Per row: the plain reasons ('; '-joined), largest contribution first, at most top.

    Only contributions of at least MIN_REASON count. Vectorized over rows. A category or
    boolean reads as its value ('industry is retail'), a number against the average.
    """
    n = len(contrib)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    rows = np.arange(n)[:, None]
    values, ups = contrib[rows, order], above[rows, order]
    degree = np.select([values >= low for low, _ in DEGREES[:-1]], [0, 1], 2)
    phrases = np.array(
        [
            [[reason_phrase(f, DEGREES[d][0], u, schema) for u in (False, True)] for d in range(3)]
            for f in schema.feature_names
        ],
        dtype=object,
    )
    words = value_words(X, schema)
    text = np.full(n, "", dtype=object)
    for k in range(order.shape[1]):  # sorted: the reasons are a prefix of each row
        piece = phrases[order[:, k], degree[:, k], ups[:, k].astype(int)]
        if words is not None:
            said = words[np.arange(n), order[:, k]]
            piece = np.where(said != None, said, piece)  # noqa: E711 (elementwise)
        keep = values[:, k] >= MIN_REASON
        text = np.where(keep, np.where(text == "", piece, text + "; " + piece), text)
    return text


def percent(p: float) -> str:
    """A probability for people: '87%', '>99%', '<1%'."""
    return ">99%" if p > 0.995 else "<1%" if p < 0.005 else f"{p:.0%}"


# ---- the client's own change -----------------------------------------------------------------

CHANGE_SHARE = 0.5  # a feature that moved by half or more since the previous observation ...
CHANGE_LOGODDS = 0.3  # ... and so raised the client's log-odds this much: a reason;
COLLAPSE = 0.9  # ... or fell or rose by 90% of the larger value: a reason whatever the model


def previous_rows(data: pd.DataFrame, clients: pd.DataFrame, schema: ColumnSchema) -> pd.DataFrame:
    """Each client's observation before its latest one that differs from it (NaN rows for
    a client with none), in the order of clients."""
    ident, names = schema.id, schema.feature_names
    distinct = data.drop_duplicates(subset=[ident, *names], keep="last")
    before = distinct[distinct.duplicated(subset=ident, keep="last")]
    before = before.drop_duplicates(subset=ident, keep="last").set_index(ident)
    return before.reindex(clients[ident].astype(str))[names]


def amount(x: float) -> str:
    """2620 -> '2,620'; 0.25 -> '0.25'."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def own_changes(model, data, clients, profile, now: np.ndarray, schema, reference=None):
    """Per client: 'activity last year fell from 2,620 to 53' for each numeric feature that
    moved by CHANGE_SHARE or more since its previous observation and so raised its risk by
    CHANGE_LOGODDS or more, or collapsed or surged (COLLAPSE) whatever the model makes of
    it (now: the latest rows' contributions)."""
    text = np.full(len(clients), "", dtype=object)
    numeric = [j for j, f in enumerate(schema.features) if f.numeric]
    before = previous_rows(data, clients, schema)
    has = before.notna().all(axis=1).to_numpy() if numeric else np.zeros(len(clients), bool)
    if not has.any():
        return text
    names = [schema.features[j].name for j in numeric]
    then_x, now_x = before[has][names].to_numpy(float), clients[names].to_numpy(float)[has]
    earlier = before[has].astype({n: float for n in names})
    rise = (now[has] - explain(model, earlier, profile, schema, reference)[0])[:, numeric]
    step = np.abs(now_x - then_x)
    moved = step >= CHANGE_SHARE * np.maximum(np.abs(then_x), 1.0)
    collapse = step >= COLLAPSE * np.maximum(np.maximum(np.abs(then_x), np.abs(now_x)), 1.0)
    for i, row in enumerate(np.flatnonzero(has)):
        text[row] = "; ".join(
            f"{schema.words(f)} {'fell' if now_x[i, j] < then_x[i, j] else 'rose'} from "
            f"{amount(then_x[i, j])} to {amount(now_x[i, j])}"
            for j, f in enumerate(names)
            if moved[i, j] and (rise[i, j] >= CHANGE_LOGODDS or collapse[i, j])
        )
    return text


# ---- the table -------------------------------------------------------------------------------


def band_of(proba: np.ndarray, settings: dict[str, Any]) -> np.ndarray:
    """'high', 'medium' or 'low' per probability, by the configured cut-offs."""
    return np.where(
        proba >= settings["high"], "high", np.where(proba >= settings["medium"], "medium", "low")
    )


def risk_table(
    model,
    data: pd.DataFrame,
    profile: dict[str, Any],
    settings: dict[str, Any],
    schema: ColumnSchema = DEFAULT_SCHEMA,
    reference: list[float] | None = None,
) -> pd.DataFrame:
    """Every current client ranked by exit probability, with band and plain reasons."""
    clients, ident = current_clients(data, schema), schema.id
    X = clients[schema.feature_names]
    proba = model.predict_proba(X)[:, 1] if len(X) else np.zeros(0)
    contrib, above = explain(model, X, profile, schema, reference)
    table = pd.DataFrame({ident: clients[ident].astype(str), "exit_probability": proba})
    for j, f in enumerate(schema.feature_names):
        table[f"contribution_{f}"] = contrib[:, j].round(4)
    table["risk_band"] = band_of(proba, settings)
    top = settings["top_reasons"]
    table["top_reasons"] = reasons_per_row(contrib.round(4), above, top, schema, X)
    table["own_change"] = (
        own_changes(model, data, clients, profile, contrib, schema, reference) if len(X) else ""
    )
    if schema.value and schema.value in clients:  # what the client is worth, and at risk
        worth = pd.to_numeric(clients[schema.value], errors="coerce").to_numpy(dtype=float)
        table[schema.value] = worth
        table["value_at_risk"] = (proba * worth).round(2)
    table = table.sort_values(["exit_probability", ident], ascending=[False, True])
    table["rank"] = np.arange(1, len(table) + 1)
    first = [ident, *LIST_COLUMNS]
    rest = [c for c in table.columns if c not in first]
    return table[first + rest].reset_index(drop=True)


def served_risk_table(
    model,
    manifest: dict[str, Any],
    data: pd.DataFrame,
    settings: dict[str, Any],
    schema: ColumnSchema = DEFAULT_SCHEMA,
) -> pd.DataFrame:
    """risk_table() of a deployed model, standardized with its saved training profile."""
    meta = read_json(Path(manifest["folder"]) / MODEL_META, {}) or {}
    profile = meta.get("profile") or profile_of(data, schema)  # older models saved none
    reference = (meta.get("selection") or {}).get("reference")
    return risk_table(model, data, profile, settings, schema, reference)


def client_record(
    row: dict[str, Any], top: int, schema: ColumnSchema = DEFAULT_SCHEMA
) -> dict[str, Any]:
    """One client of the risk table as JSON: plain reasons with their signed contributions
    (feature: the column name, label: its plain words)."""
    contrib = {f: float(row[f"contribution_{f}"]) for f in schema.feature_names}
    texts = [t for t in str(row.get("top_reasons") or "").split("; ") if t]
    ranked = sorted(((f, c) for f, c in contrib.items() if c >= MIN_REASON), key=lambda p: -p[1])
    record = {
        schema.id: row[schema.id],
        "exit_probability": float(row["exit_probability"]),
        "rank": int(row["rank"]),
        "risk_band": row["risk_band"],
        "reasons": [
            {"feature": f, "label": schema.words(f), "contribution": c, "text": t}
            for (f, c), t in zip(ranked[:top], texts, strict=False)
        ],
        "contributions": contrib,
    }
    record["own_change"] = [t for t in str(row.get("own_change") or "").split("; ") if t]
    if row.get("value_at_risk") is not None and row["value_at_risk"] == row["value_at_risk"]:
        record["value_at_risk"] = float(row["value_at_risk"])  # probability x value
    if "change" in row:
        record["change"] = row["change"] or None
    return record


# ---- what changed since the previous list ----------------------------------------------------

CHANGES = {"new_high": "new in high", "up": "moved up", "down": "moved down", "new": "new"}


def list_changes(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.Series:
    """Per client of current: 'new_high', 'up', 'down', 'new' or '' against previous.

    new_high: in the high band now and not before (a new client included); up / down:
    a higher / lower band than before; new: a client the previous list did not have.
    """
    if previous is None:
        return pd.Series("", index=current.index, dtype=object)
    order = {b: i for i, b in enumerate(reversed(BANDS))}  # low 0, medium 1, high 2
    ident = current.columns[0]  # a risk table's first column is the client id
    before = current[ident].map(dict(zip(previous[ident], previous["risk_band"], strict=True)))
    now_level = current["risk_band"].map(order)
    then_level = before.map(order)
    change = np.select(
        [
            (current["risk_band"] == "high") & (before != "high"),
            before.isna(),
            now_level > then_level,
            now_level < then_level,
        ],
        ["new_high", "new", "up", "down"],
        "",
    )
    return pd.Series(change, index=current.index, dtype=object)


def by_value_at_risk(table: pd.DataFrame) -> pd.DataFrame:
    """The table highest value at risk first (none counts as 0), then highest exit
    probability, then by id: the calls' order when the list carries a value column."""
    ident = table.columns[0]  # a risk table's first column is the client id
    at_risk = pd.to_numeric(table["value_at_risk"], errors="coerce").fillna(0.0)  # "": none
    return table.assign(value_at_risk=at_risk).sort_values(
        ["value_at_risk", "exit_probability", ident], ascending=[False, False, True]
    )


def previous_ranks(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.Series:
    """Per client of current: its place on the previous list in the calls' order: by value
    at risk when current carries it, else its rank (by exit probability). NaN when it was
    not on that list, or that list has no values at risk to order by."""
    missing = pd.Series(np.nan, index=current.index, dtype=float)
    if previous is None or "rank" not in previous.columns:
        return missing
    ident = current.columns[0]  # a risk table's first column is the client id
    if "value_at_risk" in current.columns:
        if "value_at_risk" not in previous.columns:
            return missing
        ordered = by_value_at_risk(previous)
        places = dict(zip(ordered[ident], range(1, len(ordered) + 1), strict=True))
    else:
        places = dict(zip(previous[ident], pd.to_numeric(previous["rank"]), strict=True))
    return current[ident].map(places).astype(float)


def change_counts(changes: pd.Series, current: pd.DataFrame, previous) -> dict[str, int]:
    """How many clients are new in high, moved up, moved down, and left the list."""
    counts = {k: int((changes == k).sum()) for k in CHANGES}
    ident = current.columns[0]
    left = 0 if previous is None else int((~previous[ident].isin(current[ident])).sum())
    return {**counts, "left": left}


def same_bands(a: pd.DataFrame, b: pd.DataFrame | None) -> bool:
    """True when two lists hold the same clients in the same bands."""
    if b is None or len(a) != len(b):
        return False
    key = [a.columns[0], "risk_band"]
    return a[key].sort_values(key[0]).values.tolist() == (
        b[key].sort_values(key[0]).values.tolist()
    )


RISK_CSV = "risk_scores.csv"  # the list as written for people, in output_model_path
RISK_PREVIOUS = "risk_scores.previous.csv"  # the list it replaced: what changed
CHANGE_ORDER = {"new_high": 0, "up": 1, "new": 2, "down": 3, "": 4}  # "changes first"


def saved_lists(folder: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(risk_scores.csv, risk_scores.previous.csv) of output_model_path, or None each."""
    return read_people_csv(folder / RISK_CSV), read_people_csv(folder / RISK_PREVIOUS)


def with_changes(table: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, dict]:
    """The table with change, change_order and previous_rank (previous_ranks) columns, and
    the counts shown on top."""
    saved, previous = saved_lists(folder)
    baseline = saved if saved is not None and not same_bands(table, saved) else previous
    listed = table.copy()
    listed["change"] = list_changes(listed, baseline)
    listed["change_order"] = listed["change"].map(CHANGE_ORDER)
    listed["previous_rank"] = previous_ranks(listed, baseline)
    bands = listed["risk_band"].value_counts()
    facts = {
        "total": len(listed),
        "bands": {b: int(bands.get(b, 0)) for b in BANDS},
        "changes": change_counts(listed["change"], listed, baseline),
        "has_baseline": baseline is not None,
    }
    return listed, facts


# ---- CSV files for people --------------------------------------------------------------------

FORMULA = re.compile(r"^'*[=+\-@\t\r]")


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet will not run: a leading quote before =, +, -, @, tab or CR.

    OWASP's advice, made reversible: a value that already starts with quotes before such
    a character gets one more, so unescape_cell() gives back every value exactly.
    """
    return "'" + value if FORMULA.match(value) else value


def unescape_cell(value: str) -> str:
    """The original value of a spreadsheet_safe() cell."""
    return value[1:] if FORMULA.match(value) and value.startswith("'") else value


def people_csv(table: pd.DataFrame) -> str:
    """A table as CSV text for people to open: text cells neutralised, numbers as numbers."""
    safe = table.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(lambda v: spreadsheet_safe(v) if isinstance(v, str) else v)
    return safe.to_csv(index=False, lineterminator="\n")


def read_people_csv(path) -> pd.DataFrame | None:
    """A risk list written by people_csv(), ids exactly as they were; None if missing."""
    try:
        text = path.read() if hasattr(path, "read") else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    ident = pd.read_csv(io.StringIO(text), nrows=0).columns[0]  # the client id comes first
    table = pd.read_csv(io.StringIO(text), dtype={ident: str}, keep_default_na=False)
    for col in (ident, "risk_band", "top_reasons"):
        if col in table.columns:
            table[col] = table[col].astype(str).map(unescape_cell)
    return table
