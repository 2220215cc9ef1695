"""A first schema for the user's own file: `python ingestion.py --infer-schema FILE.csv`.

infer_schema(frame) guesses, from a frame of text cells, the `schema` section of
config.json (core/columns.py's format) and returns it with one note per guess for the user
to check:
- types from the content: integer (digits), number (finite decimals), boolean (only the
  forms the rules accept: true/false, yes/no, y/n or 1/0, in any case, both a true and a
  false one), category (any other text; digits with leading zeros, codes such as zip
  codes, too; values with '%' too, with a note: the rules read plain numbers only);
- free text (a category of 20 or more texts, 90% of them distinct) is left out, noted;
- the id by name (id, account, client, ...) or as the first column of unique text;
- the target by name first (exited, churned, attrition, status, outcome, ...; never a
  column named like a region, segment, ...), else the last two-valued column: 0/1 as
  today, text labels as {column, positive, negative} (exits named yes, churned, left,
  ...); a named column of more than two labels is noted, for the user to pick;
- the value (what a client is worth) by name among non-negative numbers: value, revenue,
  contract, ...; it is kept out of the features, as the schema intends;
- min 0 where every value of a numeric feature is >= 0; required false where cells are
  empty. Headers are stripped and lower-cased, as ingestion matches them.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from pathlib import Path
from typing import Any

from risk_assessment.core.common import DataError

import pandas as pd

from risk_assessment.core.columns import FALSE_WORDS, TRUE_WORDS
from risk_assessment.schema.csv_text import check_separator, decode_text, file_bytes

MAX_ROWS = 200_000  # enough to guess from; a larger file is read in part (and said so)
INTEGER = r"^[+-]?[0-9]+(?:\.0*)?$"
LEADING_ZERO = r"^[+-]?0[0-9]"  # 01234: a code (zip, branch) whose zeros a number loses
PERCENT = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\s*%$"  # 45%, 12.5 %
ID_WORDS = {"id", "account", "client", "customer", "corporation", "company"}
# Ordered: the first word found in a header decides how well it names the target.
TARGET_WORDS = [
    "exited", "churned", "churn", "exit", "attrition", "attrited", "left", "cancelled",
    "canceled", "lost", "status", "outcome", "target", "label", "y",
]  # fmt: skip
# ... unless it names a grouping: a two-level region is a feature, never the outcome.
NOT_TARGET_WORDS = {
    "region", "segment", "country", "city", "state", "zone", "area", "industry", "sector",
    "plan", "tier", "type", "category", "group", "gender", "sex", "channel", "size",
}  # fmt: skip
MAX_TARGET_LABELS = 10  # a target-like name on more labels is not the outcome
POSITIVE_WORDS = [
    "yes", "y", "true", "t", "1", "churned", "churn", "exited", "exit", "left", "lost",
    "cancelled", "canceled", "gone", "attrited", "positive",
]  # fmt: skip
# Ordered: the first word found in a header decides how well it names a value column.
VALUE_WORDS = ["value", "revenue", "acv", "arr", "mrr", "ltv", "contract", "amount"]
# ... unless it counts time or things: contract_months is a length, not a worth.
NOT_VALUE_WORDS = {"month", "months", "days", "years", "length", "count", "tenure", "date"}
FREE_TEXT_LEVELS = 50  # a category with more levels (and mostly unique) looks like free text
# ... and one of at least this many texts, nearly all distinct, is free text: left out
FREE_TEXT_MIN = 20
FREE_TEXT_DISTINCT = 0.9
# Texts a spreadsheet writes for a missing number ('N/A', '-'): in a column of numbers
# (at least NUMBER_SHARE of its cells) they are read as empty cells for the guess, with a
# note that ingestion drops those rows (the rules read them as text, not as missing).
MISSING_WORDS = {"n/a", "na", "nan", "null", "none", "missing", "unknown", "#n/a", "n.a."}
NUMBER_SHARE = 0.75


def words_of(name: str) -> set[str]:
    """The words of a column name: 'Client_ID' -> {'client', 'id'} (and the whole name)."""
    return {name, *(w for w in re.split(r"[^a-z0-9]+", name.lower()) if w)}


def quoted(values: Any) -> str:
    """Texts as the notes show them: quoted, so a comma or line break in one is visible."""
    return ", ".join(repr(str(v)) for v in values)


def column_type(cells: pd.Series) -> str:
    """integer / number / boolean / category from a column's non-empty text cells."""
    lower = set(cells.str.lower().unique())
    if cells.str.fullmatch(INTEGER).all():
        if lower == {"0", "1"}:
            return "boolean"
        return "category" if cells.str.match(LEADING_ZERO).any() else "integer"
    if lower <= {*TRUE_WORDS, *FALSE_WORDS} and {w in TRUE_WORDS for w in lower} == {True, False}:
        return "boolean"
    numbers = pd.to_numeric(cells, errors="coerce")
    if numbers.notna().all() and numbers.abs().lt(float("inf")).all():
        return "number"
    return "category"


def read_text(path: Path) -> str:
    """A CSV file's text, read and checked as ingestion reads it (empty, binary, not UTF-8,
    another separator: the same one line); DataError naming the file."""
    text = decode_text(str(path), file_bytes(path))
    check_separator(str(path), text)
    return text


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV file's cells as stripped text, headers stripped and lower-cased (at most
    MAX_ROWS rows); DataError naming the file when it is missing, empty or malformed."""
    path = Path(path)
    text = read_text(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, header=None,
                index_col=False, nrows=MAX_ROWS + 1,
            )  # fmt: skip
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file") from None
    except (pd.errors.ParserWarning, pd.errors.ParserError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or ["parse error"])[-1][:200]
        raise DataError(f"{path}: malformed CSV ({reason})") from None
    # the header is read as a row: pandas would rename a repeated name x to x.1
    table.columns = [str(c).strip().lower() for c in table.iloc[0]]
    table = table.iloc[1:].reset_index(drop=True).fillna("")
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


def label_keys(cells: pd.Series) -> pd.Series:
    """Each target cell as the rules match it: in any case, 1.0 and 0.0 as 1 and 0."""
    return cells.str.lower().replace({"1.0": "1", "0.0": "0"})


def label_counts(cells: pd.Series) -> pd.Series:
    """How often each label occurs, labels compared as the rules match them ('Churned',
    'CHURNED' are one label; so are 1 and 1.0), each under its most frequent spelling."""
    spellings = cells.value_counts()
    key = label_keys(pd.Series(spellings.index, dtype=object)).to_numpy()
    first = pd.Series(spellings.index, index=key).groupby(level=0, sort=False).first()
    counts = spellings.groupby(key, sort=False).sum()
    return pd.Series(counts.to_numpy(), index=first[counts.index].to_numpy()).sort_values(
        ascending=False, kind="stable"
    )


def target_spec(column: str, cells: pd.Series) -> tuple[Any, str]:
    """The schema's target for a column of two labels or a few, and the note saying how
    it reads (and, with more than two labels, that the user picks)."""
    counts = label_counts(cells)
    values = list(counts.index)
    if set(values) <= {"0", "1", "0.0", "1.0"}:
        return column, f"target: {column} (1 = exited, 0 = stayed)"
    if len(values) < 2:
        raise DataError(f"target {column} has one value only ({values[0]!r}): write it by hand")
    lower = [v.lower() for v in values]
    ranked = [w for w in POSITIVE_WORDS if w in lower]
    if ranked:
        positive = values[lower.index(ranked[0])]
        why = f"{positive!r} reads as an exit"
    else:
        positive = values[-1]  # exits are the rarer outcome
        why = f"{positive!r} is the rarer label: check it means exited"
    negative = next(v for v in values if v != positive)  # the most frequent other label
    spec = {"column": column, "positive": positive, "negative": negative}
    note = f"target: {column} (exited = {positive!r}, stayed = {negative!r}; {why})"
    others = [v for v in values if v not in (positive, negative)]
    if others:
        note += (
            f"; {len(values)} labels ({quoted(values)}): rows labelled {quoted(others)} would "
            "be dropped, so pick positive and negative, or merge labels in the export"
        )
    return spec, note


def target_rank(column: str) -> int:
    """How well a name says 'the outcome': the place of its first target word (never for
    a name of a grouping such as region or segment); len(TARGET_WORDS) when none."""
    words = words_of(column)
    found = [i for i, w in enumerate(TARGET_WORDS) if w in words]
    return found[0] if found and not words & NOT_TARGET_WORDS else len(TARGET_WORDS)


def guess_target(frame: pd.DataFrame, taken: set[str]) -> tuple[Any, str, str]:
    """(target spec, column, note): by name first (two values, or up to MAX_TARGET_LABELS
    text labels: months_left of 0..9 is a count), else the last two-valued column not
    named like a grouping."""
    distinct = {c: label_keys(frame[c][frame[c] != ""]).nunique() for c in frame if c not in taken}
    named = [
        c for c, n in distinct.items()
        if target_rank(c) < len(TARGET_WORDS) and (n in (1, 2) or (
            n <= MAX_TARGET_LABELS and pd.to_numeric(frame[c], errors="coerce").isna().any()))
    ]  # fmt: skip
    named.sort(key=lambda c: (target_rank(c), distinct[c] != 2))
    two = [c for c, n in distinct.items() if n == 2 and not words_of(c) & NOT_TARGET_WORDS]
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
        note += category_note(cells, rows)
    elif kind == "boolean":
        note += f" ({' / '.join(sorted(set(cells.str.lower())))})"
    if len(cells) < rows:
        spec["required"] = False
        note += f"; {rows - len(cells)} of {rows} cells empty: required false (a missing value)"
    return spec, note


def category_note(cells: pd.Series, rows: int) -> str:
    """What the note says of a category: its levels (quoted), and why it is text when it
    looks like numbers (leading zeros, '%')."""
    levels = cells.value_counts()
    shown = quoted(levels.index[:6]) + (", ..." if len(levels) > 6 else "")
    note = f", {len(levels)} levels ({shown}); learnt from the training data"
    if len(levels) > FREE_TEXT_LEVELS and len(levels) > rows / 2:
        note += "; mostly unique: free text? remove it if so"
    if cells.str.fullmatch(INTEGER).all() and cells.str.match(LEADING_ZERO).any():
        example = cells[cells.str.match(LEADING_ZERO)].iloc[0]
        note += f"; digits with leading zeros ({example!r}): text codes, a number would lose them"
    elif cells.str.fullmatch(PERCENT).all():
        note += (
            f"; the values carry '%' ({cells.iloc[0]!r}): to make it a number feature, "
            "write plain numbers (the rules do not read '%')"
        )
    return note


def placeholders(cells: pd.Series) -> list[str]:
    """The texts standing for a missing number in a column of non-empty cells: words of
    MISSING_WORDS or punctuation ('-', '?'), when every other cell, and at least
    NUMBER_SHARE of all, is a finite number; [] otherwise."""
    numbers = pd.to_numeric(cells, errors="coerce")
    number = numbers.notna() & numbers.abs().lt(float("inf"))
    others = cells[~number]
    missing = others.str.lower().isin(MISSING_WORDS) | others.str.fullmatch(r"[^\w\s]+")
    if others.empty or not missing.all() or number.mean() < NUMBER_SHARE:
        return []
    return sorted(others.unique())


def blank_placeholders(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """(the frame with placeholders() as empty cells, a note per column that had them)."""
    typed, notes = frame.copy(), {}
    for column in frame:
        marks = placeholders(frame[column][frame[column] != ""])
        if marks:
            found = frame[column].isin(marks)
            typed.loc[found, column] = ""
            notes[column] = (
                f"; {quoted(marks)} in {int(found.sum())} cells read as missing here, but "
                "ingestion drops such rows (not a number): export them as empty cells"
            )
    return typed, notes


def free_text(cells: pd.Series) -> str:
    """Why a category column is left out as free text ('' when it is not): at least
    FREE_TEXT_MIN texts, nearly all distinct, cannot be a category the model learns."""
    distinct = cells.nunique()
    if distinct < FREE_TEXT_MIN or distinct < FREE_TEXT_DISTINCT * len(cells):
        return ""
    return (
        f"left out: free text? ({distinct} distinct texts in {len(cells)} cells: all or "
        "nearly all distinct, no use as a category; add it by hand if it is one)"
    )


def infer_schema(frame: pd.DataFrame) -> tuple[dict[str, Any], list[str]]:
    """(the schema section, one note per guess) for a frame of stripped text cells.

    Raises DataError when no column can be the id or the target."""
    rows = len(frame)
    empty = [c for c in frame if (frame[c] == "").all()]
    frame = frame.drop(columns=empty)
    typed, missing = blank_placeholders(frame)
    kinds = {c: column_type(typed[c][typed[c] != ""]) for c in frame}
    ident, id_note = guess_id(frame, kinds)
    target, target_column, target_note = guess_target(frame, {ident})
    notes = [id_note, target_note]
    value = guess_value(typed, kinds, {ident, target_column})
    if value:
        notes.append(f"value: {value} (what a client is worth; not a feature unless listed)")
    features = {}
    for name in [c for c in frame if c not in (ident, target_column, value)]:
        cells = typed[name][typed[name] != ""]
        why = free_text(cells) if kinds[name] == "category" else ""
        if why:
            notes.append(f"{name}: {why}")
            continue
        features[name], note = feature_spec(name, cells, kinds[name], rows)
        notes.append(note + missing.get(name, ""))
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
    return schema_block(schema), [one_line(n) for n in notes]


def one_line(note: str) -> str:
    """A note as one line: a line break or control character in a header is escaped."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: repr(m.group())[1:-1], note)


def schema_block(schema: dict[str, Any]) -> str:
    """The schema as a config.json block: `"schema": {...}`, one line per feature."""
    parts = []

    def dump(value: Any) -> str:  # UTF-8 as written: "contract value (€)", not \u20ac
        return json.dumps(value, ensure_ascii=False)

    for key, value in schema.items():
        if key == "features":
            inner = ",\n".join(f"    {dump(n)}: {dump(s)}" for n, s in value.items())
            parts.append(f'  "features": {{\n{inner}\n  }}')
        else:
            parts.append(f"  {dump(key)}: {dump(value)}")
    return '"schema": {\n' + ",\n".join(parts) + "\n}"
