"""A first schema for the user's own file: `python ingestion.py --infer-schema FILE.csv`.

infer_schema(frame) guesses, from a frame of text cells, the `schema` section of
config.json (core/columns.py's format) and returns it with one note per guess for the user
to check:
- types from the content: integer (digits), number (finite decimals), boolean (only
  true/false, yes/no or 1/0, in any case), category (any other text);
- the id by name (id, account, client, ...) or as the first column of unique text;
- the target by name (exited, churned, ...) among the columns of two values: 0/1 as today,
  two text labels as {column, positive, negative} (exits named yes, churned, left, ...);
- the value (what a client is worth) by name among non-negative numbers: value, revenue,
  contract, ...; it is kept out of the features, as the schema intends;
- min 0 where every value of a numeric feature is >= 0; required false where cells are
  empty. Headers are stripped and lower-cased, as ingestion matches them.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

from risk_assessment.core.common import DataError

import pandas as pd

MAX_ROWS = 200_000  # enough to guess from; a larger file is read in part (and said so)
INTEGER = r"^[+-]?[0-9]+(?:\.0*)?$"
BOOLEAN_WORDS = {"true", "false", "yes", "no", "1", "0"}
ID_WORDS = {"id", "account", "client", "customer", "corporation", "company"}
TARGET_WORDS = {
    "exited", "exit", "churned", "churn", "target", "label", "left", "attrition",
    "cancelled", "canceled", "outcome", "lost", "y",
}  # fmt: skip
POSITIVE_WORDS = [
    "yes", "y", "true", "t", "1", "churned", "churn", "exited", "exit", "left", "lost",
    "cancelled", "canceled", "gone", "attrited", "positive",
]  # fmt: skip
# Ordered: the first word found in a header decides how well it names a value column.
VALUE_WORDS = ["value", "revenue", "acv", "arr", "mrr", "ltv", "contract", "amount"]
# ... unless it counts time or things: contract_months is a length, not a worth.
NOT_VALUE_WORDS = {"month", "months", "days", "years", "length", "count", "tenure", "date"}
FREE_TEXT_LEVELS = 50  # a category with more levels (and mostly unique) looks like free text


def words_of(name: str) -> set[str]:
    """The words of a column name: 'Client_ID' -> {'client', 'id'} (and the whole name)."""
    return {name, *(w for w in re.split(r"[^a-z0-9]+", name.lower()) if w)}


def column_type(cells: pd.Series) -> str:
    """integer / number / boolean / category from a column's non-empty text cells."""
    lower = set(cells.str.lower().unique())
    if cells.str.fullmatch(INTEGER).all():
        return "boolean" if lower == {"0", "1"} else "integer"
    if lower <= BOOLEAN_WORDS and len(lower) == 2:
        return "boolean"
    numbers = pd.to_numeric(cells, errors="coerce")
    if numbers.notna().all() and numbers.abs().lt(float("inf")).all():
        return "number"
    return "category"


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV file's cells as stripped text, headers stripped and lower-cased (at most
    MAX_ROWS rows); DataError naming the file when it is missing, empty or malformed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                path, dtype=str, keep_default_na=False, header=None, index_col=False,
                nrows=MAX_ROWS + 1, encoding="utf-8-sig",
            )  # fmt: skip
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a file") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except (pd.errors.ParserWarning, pd.errors.ParserError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or ["parse error"])[-1][:200]
        raise DataError(f"{path}: malformed CSV ({reason})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    # the header is read as a row: pandas would rename a repeated name x to x.1
    table.columns = [str(c).strip().lower() for c in table.iloc[0]]
    table = table.iloc[1:].reset_index(drop=True).fillna("")
    other = [s for s in (";", "\t", "|") if len(table.columns) == 1 and s in table.columns[0]]
    if other:
        raise DataError(f"{path}: fields separated by {other[0]!r}: save it as comma-separated")
    nameless = [str(i + 1) for i, c in enumerate(table.columns) if c == ""]
    if nameless:
        raise DataError(f"{path}: column(s) {', '.join(nameless)} have no name in the header")
    if table.columns.duplicated().any():
        twice = sorted(set(table.columns[table.columns.duplicated()]))
        raise DataError(f"{path}: column(s) {', '.join(twice)} named twice")
    if table.empty:
        raise DataError(f"{path}: header only, no data rows")
    return table.apply(lambda col: col.str.strip())


def guess_id(frame: pd.DataFrame, kinds: dict[str, str]) -> tuple[str, str]:
    """(id column, why): by name first, else the first column of unique text."""
    full = [c for c in frame if (frame[c] != "").all()]
    unique = [c for c in full if frame[c].is_unique]
    named = [c for c in frame if words_of(c) & ID_WORDS]
    for column in sorted(named, key=lambda c: (c not in unique, c not in full)):
        how = "unique in every row" if column in unique else "values repeat: re-observations?"
        return column, f"id: {column} (named like an id; {how})"
    for column in unique:
        if kinds[column] == "category":
            return column, f"id: {column} (the first column of unique text; no id-like name: check)"
    if unique:
        return unique[0], f"id: {unique[0]} (unique in every row; no id-like name: check)"
    raise DataError("no column looks like the client id (unique text in every row)")


def target_spec(column: str, cells: pd.Series) -> tuple[Any, str]:
    """The schema's target for a two-valued column, and the note saying how it reads."""
    counts = cells.value_counts()
    values = list(counts.index)
    if set(values) <= {"0", "1", "0.0", "1.0"}:
        return column, f"target: {column} (1 = exited, 0 = stayed)"
    if len(values) < 2:
        raise DataError(f"target {column} has one value only ({values[0]}): write it by hand")
    lower = [v.lower() for v in values]
    ranked = [w for w in POSITIVE_WORDS if w in lower]
    if ranked:
        positive = values[lower.index(ranked[0])]
        why = f"'{positive}' reads as an exit"
    else:
        positive = values[-1]  # exits are the rarer outcome
        why = f"'{positive}' is the rarer label: check it means exited"
    negative = next(v for v in values if v != positive)
    spec = {"column": column, "positive": positive, "negative": negative}
    return spec, f"target: {column} (exited = '{positive}', stayed = '{negative}'; {why})"


def guess_target(frame: pd.DataFrame, taken: set[str]) -> tuple[Any, str, str]:
    """(target spec, column, note): a two-valued column, by name first, else the last one."""
    distinct = {c: frame[c][frame[c] != ""].nunique() for c in frame if c not in taken}
    named = [c for c, n in distinct.items() if n in (1, 2) and words_of(c) & TARGET_WORDS]
    two = [c for c, n in distinct.items() if n == 2]
    column = (named or two[-1:] or [None])[0]
    if column is None:
        raise DataError("no column looks like the target (two values such as 0/1 or yes/no)")
    spec, note = target_spec(column, frame[column][frame[column] != ""])
    if not named:
        note += "; no target-like name, the last two-valued column: check"
    empty = int((frame[column] == "").sum())
    if empty:
        note += f"; {empty} empty cells are unlabelled (current) clients"
    return spec, column, note


def guess_value(frame: pd.DataFrame, kinds: dict[str, str], taken: set[str]) -> str | None:
    """The value column: a non-negative number whose name says value, revenue, ...."""

    def rank(column: str) -> int:
        found = [i for i, w in enumerate(VALUE_WORDS) if w in column]
        if not found or words_of(column) & NOT_VALUE_WORDS:
            return len(VALUE_WORDS)
        return found[0]

    numeric = [
        c for c in frame
        if c not in taken and kinds[c] in ("integer", "number") and rank(c) < len(VALUE_WORDS)
        and (frame[c] != "").all() and pd.to_numeric(frame[c]).ge(0).all()
    ]  # fmt: skip
    return min(numeric, key=rank) if numeric else None


def feature_spec(name: str, cells: pd.Series, kind: str, rows: int) -> tuple[dict, str]:
    """One feature's schema entry from its non-empty cells, and the note for it."""
    spec: dict[str, Any] = {"type": kind}
    note = f"{name}: {kind}"
    if kind in ("integer", "number"):
        values = pd.to_numeric(cells)
        if values.min() >= 0:
            spec["min"] = 0
        note += f" from {values.min():g} to {values.max():g}" + (
            " (min 0: no negative value seen)" if "min" in spec else ""
        )
    elif kind == "category":
        levels = cells.value_counts()
        shown = ", ".join(levels.index[:6]) + (", ..." if len(levels) > 6 else "")
        note += f", {len(levels)} levels ({shown}); learnt from the training data"
        if len(levels) > FREE_TEXT_LEVELS and len(levels) > rows / 2:
            note += "; mostly unique: free text? remove it if so"
    elif kind == "boolean":
        note += f" ({' / '.join(sorted(set(cells.str.lower())))})"
    if len(cells) < rows:
        spec["required"] = False
        note += f"; {rows - len(cells)} of {rows} cells empty: required false (a missing value)"
    return spec, note


def infer_schema(frame: pd.DataFrame) -> tuple[dict[str, Any], list[str]]:
    """(the schema section, one note per guess) for a frame of stripped text cells.

    Raises DataError when no column can be the id or the target."""
    rows = len(frame)
    empty = [c for c in frame if (frame[c] == "").all()]
    frame = frame.drop(columns=empty)
    kinds = {c: column_type(frame[c][frame[c] != ""]) for c in frame}
    ident, id_note = guess_id(frame, kinds)
    target, target_column, target_note = guess_target(frame, {ident})
    notes = [id_note, target_note]
    value = guess_value(frame, kinds, {ident, target_column})
    if value:
        notes.append(f"value: {value} (what a client is worth; not a feature unless listed)")
    features = {}
    for name in frame:
        if name not in (ident, target_column, value):
            cells = frame[name][frame[name] != ""]
            features[name], note = feature_spec(name, cells, kinds[name], rows)
            notes.append(note)
    notes += [f"{c}: every cell empty, left out" for c in empty]
    if not features:
        raise DataError("no column is left for the features (only id and target found)")
    schema: dict[str, Any] = {"id": ident, "target": target}
    if value:
        schema["value"] = value
    schema["features"] = features
    notes.append('check each guess; add "label" (plain words) or "levels" (a fixed list)')
    return schema, notes


def infer_file(path: str | Path) -> tuple[str, list[str]]:
    """The `"schema": {...}` block to paste into config.json for a CSV file, and the notes
    (each guess, and whether only the first MAX_ROWS rows were read)."""
    frame = read_table(path)
    try:
        schema, notes = infer_schema(frame)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    if len(frame) >= MAX_ROWS:
        notes.insert(0, f"guessed from the first {MAX_ROWS:,} rows of {path}")
    return schema_block(schema), notes


def schema_block(schema: dict[str, Any]) -> str:
    """The schema as a config.json block: `"schema": {...}`, one line per feature."""
    parts = []
    for key, value in schema.items():
        if key == "features":
            inner = ",\n".join(f"    {json.dumps(n)}: {json.dumps(s)}" for n, s in value.items())
            parts.append(f'  "features": {{\n{inner}\n  }}')
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return '"schema": {\n' + ",\n".join(parts) + "\n}"
