"""The CSV schema: parse, validate and load data files, one validation path for every value.

Every cell is read as text and checked by the rules of its column in the schema
(config["schema"], a core.columns.ColumnSchema; cells.py holds the rules), whether it comes
from an input file, a database row, finaldata.csv, the test data or an API request:
- headers are matched case- and space-insensitively (" Exited" is `exited`), then by the
  schema's aliases; other columns are ignored and named (parse_csv's attrs["ignored"]);
- ids are kept as text exactly as written (`0012` stays `0012`), without control
  characters (a line break in an id is a broken export);
- features follow their type (integer, number, category, boolean) and bounds;
- the target is 1/0 (or the schema's text labels), or empty when the outcome is not known
  yet (an unlabelled row).
A bad value drops its row with a reason; it never crashes the run or reaches the store.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from risk_assessment.core.common import DataError

import numpy as np
import pandas as pd

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.schema.cells import (  # noqa: F401 (dataset.MAX_INT stays importable)
    MAX_INT,
    MAX_TEXT_CHARS,
    feature_cells,
    id_cells,
    target_cells,
    value_cells,
)
from risk_assessment.schema.csv_text import (
    check_separator,
    decode_text,
    file_bytes,
    found_columns,
)
from risk_assessment.schema.rows import Checked, distinct_cells, kept_rows

MAX_ID_CHARS = MAX_TEXT_CHARS  # a longer id is a wrong export, not a client


def normal_name(name: object) -> str:
    """A header as the schema spells it: stripped, lower case."""
    return str(name).strip().lower()


def header_names(headers: list, schema: ColumnSchema) -> list[str | None]:
    """Per input header: the schema column it is (by normal name, then by alias), or None."""
    columns = {normal_name(c): c for c in schema.columns}
    aliases = {normal_name(k): v for k, v in schema.aliases.items()}
    out = []
    for header in headers:
        name = normal_name(header)
        out.append(columns.get(name) or aliases.get(name))
    return out


def needed_columns(schema: ColumnSchema, roles: tuple[str, ...]) -> list[str]:
    """The columns a table must have: the required features, and the id and target when
    roles names them."""
    needed = [schema.id] if "id" in roles else []
    needed += [f.name for f in schema.features if f.required]
    return needed + ([schema.target.column] if "target" in roles else [])


log = logging.getLogger("dataset")

_SPACE = re.compile(r"\s")
_ASCII_SPACE = [chr(c) for c in range(128) if chr(c).isspace()]  # what \s matches in ASCII
_EDGE_SPACE = re.compile(r"(?:^|\x00)\s|\s(?:\x00|$)")  # at a cell's start or end


def stripped(cells: pd.Series) -> pd.Series:
    """The cells without leading and trailing whitespace. The column's cells are looked at
    once, joined: most columns have no cell to strip (numbers, ids, codes), and are kept
    as they are without a pass per cell."""
    joined = "\x00".join(cells.tolist())
    if joined.isascii() and not any(c in joined for c in _ASCII_SPACE):
        return cells  # the common case, found by C-speed substring searches
    if _SPACE.search(joined) is None or _EDGE_SPACE.search(joined) is None:
        return cells
    return cells.str.strip()


def as_text(cells: pd.Series) -> pd.Series:
    """A column as text: the parser's text column as it is, any other (a database's
    numbers, say) by str."""
    return cells if isinstance(cells.dtype, pd.StringDtype) else cells.astype(str)


def schema_table(
    table: pd.DataFrame, source: str, schema: ColumnSchema, roles: tuple[str, ...]
) -> pd.DataFrame:
    """A table of text cells under the schema's column names: checked for the needed
    columns, absent optional ones empty; attrs["ignored"] names the other columns."""
    names = header_names(list(table.columns), schema)
    ignored = [str(c).strip()[:40] for c, n in zip(table.columns, names, strict=True) if n is None]
    known = [n for n in names if n is not None]
    if len(set(known)) < len(known):
        twice = sorted({n for n in known if known.count(n) > 1})
        raise DataError(f"{source}: duplicated column(s) {', '.join(twice)} after normalising "
                        "the header")  # fmt: skip
    missing = [c for c in needed_columns(schema, roles) if c not in known]
    if missing:
        found = found_columns(list(table.columns))
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (found: {found})")
    # by position, without copying the cells (a million rows of text: 0.4 s)
    found = {n: table.iloc[:, i] for i, n in enumerate(names) if n is not None}
    out = pd.DataFrame(
        {c: stripped(as_text(found[c])) if c in found else "" for c in schema.columns},
        index=table.index,
        copy=False,
    )
    out.attrs["ignored"] = ignored
    return out


def parse_csv(
    raw: bytes,
    source: str,
    schema: ColumnSchema = DEFAULT_SCHEMA,
    roles: tuple[str, ...] = ("id", "target"),
) -> pd.DataFrame:
    """Parse CSV bytes as stripped text cells under the schema's column names.

    The id and target columns are needed when roles names them, required features always;
    a column that is absent and not needed reads as empty cells. attrs["ignored"] lists
    the file's columns that the schema does not know. Raises DataError naming the source.
    """
    text = decode_text(source, raw)
    check_separator(source, text)
    try:
        with warnings.catch_warnings():
            # index_col=False stops pandas from silently taking an extra first-row field
            # as an index (shifting every column); it warns instead, which we refuse
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                index_col=False,
            )
    except pd.errors.ParserWarning:
        raise DataError(
            f"{source}: malformed CSV (a row has more fields than the header)"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: empty file") from None
    except (pd.errors.ParserError, ValueError, OverflowError) as exc:
        reason = (str(exc).strip().splitlines() or ["parse error"])[-1][:200]
        raise DataError(f"{source}: malformed CSV ({reason})") from None
    checked = schema_table(table, source, schema, roles)
    if table.empty:
        raise DataError(f"{source}: header only, no data rows")
    return checked


def read_raw_csv(
    path: str | Path, schema: ColumnSchema = DEFAULT_SCHEMA, roles: tuple = ("id", "target")
) -> pd.DataFrame:
    """parse_csv() of a file; DataError naming the file when it cannot be read."""
    path = Path(path)
    return parse_csv(file_bytes(path), str(path), schema, roles)


def validate_rows(
    raw: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA, allow_unlabelled: bool = False
) -> tuple[pd.Series, pd.Series]:
    """Per row: True when valid, and the first reason a row is bad ('' when valid)."""
    checked = check_rows(raw, schema, allow_unlabelled)
    return checked.valid, checked.reason


def check_rows(
    raw: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA, allow_unlabelled: bool = False
) -> Checked:
    """Every rule of the schema over a table of text cells (only its columns present)."""
    checked = Checked(raw.index)
    if schema.id in raw:
        checked.flag(id_cells(raw[schema.id], schema.id), schema.id, raw[schema.id])
    for feature in [f for f in schema.features if f.name in raw]:
        text = raw[feature.name]
        checked.values[feature.name], bad = distinct_cells(feature_cells, text, feature)
        checked.flag(bad, feature.name, text)
    if schema.value and schema.value in raw and schema.value not in checked.values:
        text = raw[schema.value]
        checked.values[schema.value], bad = distinct_cells(value_cells, text, schema.value)
        checked.flag(bad, schema.value, text)
    name = schema.target.column
    if name in raw:
        checked.values[name], bad = distinct_cells(
            target_cells, raw[name], schema, allow_unlabelled
        )
        checked.flag(bad, name, raw[name])
    return checked


def typed(values: pd.Series, kind: str, required: bool) -> pd.Series:
    """A validated column in its stored type: integers and booleans int64 when every row
    has one (float with NaN otherwise), numbers float64, categories text (None missing)."""
    if kind == "category":
        return values.astype(object).where(values.notna(), None)
    if kind in ("integer", "boolean") and required:
        return values.astype("int64")
    return values.astype(float)


def clean_rows(
    raw: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA, allow_unlabelled: bool = False
) -> tuple[pd.DataFrame, Counter]:
    """Valid rows with typed columns, and a count of bad rows per reason.

    attrs["examples"] holds, per reason, the first bad cell's value (for the log and the
    ingestion record). The target becomes Int64 (nullable: <NA> for an unlabelled row)
    when allow_unlabelled, else int64.
    """
    checked = check_rows(raw, schema, allow_unlabelled)
    valid = checked.valid
    reasons = Counter(checked.reason[~valid].tolist())
    bad = pd.DataFrame({"reason": checked.reason, "cell": checked.cell})[~valid]
    examples = dict(bad.drop_duplicates("reason").itertuples(index=False, name=None))
    keep = valid.to_numpy()

    def kept(column: pd.Series) -> pd.Series:  # the valid rows, numbered from 0
        return pd.Series(column.array[keep])

    values: dict[str, pd.Series] = {}
    for feature in [f for f in schema.features if f.name in raw]:
        values[feature.name] = typed(kept(checked.values[feature.name]), feature.type,
                                     feature.required)  # fmt: skip
    if schema.value and schema.value in raw and schema.value not in schema.feature_names:
        values[schema.value] = kept(checked.values[schema.value]).astype(float)
    target = schema.target.column
    if target in raw:
        labels = kept(checked.values[target])
        values[target] = labels.astype("Int64") if allow_unlabelled else labels.astype("int64")
    if schema.id in raw:
        values[schema.id] = kept(raw[schema.id]).astype(str)
    clean = kept_rows(raw, keep, values)
    clean.attrs = {"examples": examples, "ignored": raw.attrs.get("ignored", [])}
    return clean, reasons


def describe(reasons: Counter, examples: dict | None = None) -> str:
    """'non-numeric x: 2 (e.g. 'abc'), negative y: 1', most frequent first."""
    examples = examples or {}
    return ", ".join(
        f"{text}: {n}" + (f" (e.g. {examples[text][:40]!r})" if text in examples else "")
        for text, n in reasons.most_common()
    )


def load_dataset(path: str | Path, schema: ColumnSchema = DEFAULT_SCHEMA) -> pd.DataFrame:
    """A schema-checked labelled dataset (finaldata.csv, the test data). Its bad rows are
    left out with one warning naming the file and the reasons, as ingestion drops them (a
    bound tightened after the data came in leaves out the rows beyond it); DataError when
    no row is valid."""
    clean, reasons = clean_rows(read_raw_csv(path, schema), schema)
    if reasons:
        bad, why = sum(reasons.values()), describe(reasons, clean.attrs["examples"])
        if clean.empty:
            raise DataError(f"{Path(path)}: no valid row; {bad} bad row(s): {why}")
        log.warning("%s: %d bad row(s) left out, %d kept: %s", Path(path), bad, len(clean), why)
    return clean


def checked_features(
    text: pd.DataFrame, source: str, schema: ColumnSchema = DEFAULT_SCHEMA
) -> pd.DataFrame:
    """The schema's features of a table of text cells, typed; DataError naming the source,
    the first bad cell's column, 1-based row and value, and the count of bad rows."""
    text = text.reset_index(drop=True)
    clean, reasons = clean_rows(text, schema)
    if reasons:
        checked = check_rows(text, schema)
        row = int(np.flatnonzero((~checked.valid).to_numpy())[0])
        raise DataError(
            f"{source}: column {checked.column.iloc[row]} row {row + 1}: "
            f"{checked.cell.iloc[row][:40]!r} is not valid ({checked.reason.iloc[row]}); "
            f"{sum(reasons.values())} bad row(s): {describe(reasons)}"
        )
    return clean[schema.feature_names]


def feature_frame(
    data: pd.DataFrame, source: str, schema: ColumnSchema = DEFAULT_SCHEMA
) -> pd.DataFrame:
    """The schema's features of data (any types), validated and typed; DataError naming the
    source and the first bad cell otherwise."""
    missing = [f.name for f in schema.features if f.required and f.name not in data.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}")
    names = [f for f in schema.feature_names if f in data.columns]
    text = (
        data[names]
        .reset_index(drop=True)
        .apply(lambda col: col.astype(str).str.strip().where(col.notna(), ""))
    )
    for name in set(schema.feature_names) - set(names):
        text[name] = ""
    return checked_features(text, source, schema)


def observations_frame(rows: list[tuple], schema: ColumnSchema = DEFAULT_SCHEMA) -> pd.DataFrame:
    """Store rows (seq, *the schema's columns) as a frame: seq, the id as text, the
    features typed as clean_rows types them, the target Int64 (<NA> when unlabelled),
    then the value column (float) when the schema has one."""
    extra = [schema.value] if schema.value and schema.value not in schema.feature_names else []
    frame = pd.DataFrame(rows, columns=["seq", *schema.columns])
    frame[schema.id] = frame[schema.id].astype(str)
    for f in schema.features:
        values = frame[f.name] if f.type == "category" else frame[f.name].astype(float)
        frame[f.name] = typed(values, f.type, f.required and values.notna().all())
    for name in extra:
        frame[name] = frame[name].astype(float)
    frame[schema.target.column] = frame[schema.target.column].astype("Int64")
    return frame


def export_dtypes(schema: ColumnSchema) -> dict[str, Any]:
    """Each column's type in the frame clean_rows gives: the id text, the target int64,
    categories text, integers and booleans int64 when required, other numbers float."""
    dtype: dict[str, Any] = {c: float for c in schema.columns}  # the value column
    dtype.update({schema.id: str, schema.target.column: "int64"})
    for f in schema.features:
        exact = f.required and f.type in ("integer", "boolean")
        dtype[f.name] = str if f.type == "category" else "int64" if exact else float
    return dtype


def export_frame(raw: bytes, schema: ColumnSchema = DEFAULT_SCHEMA) -> pd.DataFrame:
    """finaldata.csv's bytes as the store wrote them (the caller has checked their sha256
    against the store's record): the frame load_dataset gives, typed straight by the CSV
    parser. Every row was judged on its way into the store, so the rules are not run a
    second time (a million rows: under a second, against about four)."""
    dtype = export_dtypes(schema)
    frame = pd.read_csv(
        io.BytesIO(raw),
        dtype=dtype,
        keep_default_na=False,
        na_values={c: [""] for c, kind in dtype.items() if kind is float},
    )[schema.columns]
    for f in [f for f in schema.features if f.type == "category"]:
        frame[f.name] = frame[f.name].astype(object).where(frame[f.name] != "", None)
    frame.attrs = {"examples": {}, "ignored": []}
    return frame
