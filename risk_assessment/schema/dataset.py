"""The CSV schema: parse, validate and load data files, one validation path for every value.

Every cell is read as text and checked the same way, whether it comes from an input file,
a database row, finaldata.csv or the test data:
- headers are matched case- and space-insensitively (" Exited" is `exited`);
- ids are kept as text exactly as written (`0012` stays `0012`), without control
  characters (a line break in an id is a broken export);
- counts are non-negative integers written in digits, at most MAX_INT (2^53: every such
  integer is exact in a float, so numpy, pandas, JSON and SQLite all agree on it);
- `exited` is 0 or 1, or empty when the outcome is not known yet (an unlabelled row).
A bad value drops its row with a reason; it never crashes the run or reaches the store.
"""

from __future__ import annotations

import io
import warnings
from collections import Counter
from pathlib import Path

from risk_assessment.core.common import COLUMNS, FEATURES, ID_COLUMN, TARGET, DataError

import numpy as np
import pandas as pd

MAX_INT = 2**53  # the largest count accepted (documented in the README)
MAX_ID_CHARS = 200  # a longer id is a wrong export, not a client
_MAX_TEXT = str(MAX_INT)
_DIGITS = r"^\+?[0-9]+(?:\.0*)?$"  # 12, +12, 12.0: integers as spreadsheets write them
# A line break, tab or other control character in an id is a broken export, not a client
# (and a carriage return would split the row when finaldata.csv is read again).
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"


def decode_text(source: str, raw: bytes) -> str:
    """CSV bytes as text; DataError for empty, binary or non-UTF-8 content."""
    if not raw.strip():
        raise DataError(f"{source}: empty file")
    if b"\x00" in raw:
        raise DataError(f"{source}: binary content, not a CSV file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text (bad byte at offset {exc.start})") from None


def normal_name(name: object) -> str:
    """A header as the schema spells it: stripped, lower case."""
    return str(name).strip().lower()


def parse_csv(
    raw: bytes, source: str, required: list[str] = COLUMNS, optional: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Parse CSV bytes as stripped text cells, checking the required columns are there.

    Returns the required columns, then any optional ones present. Raises DataError naming
    the source and the problem.
    """
    text = decode_text(source, raw)
    try:
        with warnings.catch_warnings():
            # index_col=False stops pandas from silently taking an extra first-row field
            # as an index (shifting every column); it warns instead, which we refuse
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, index_col=False
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
    table.columns = [normal_name(c) for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        found = ", ".join(str(c)[:40] for c in table.columns[:8]) or "none"
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (found: {found})")
    if table.columns.duplicated().any():
        raise DataError(f"{source}: duplicated column(s) after normalising the header")
    if table.empty:
        raise DataError(f"{source}: header only, no data rows")
    keep = [*required, *(c for c in optional if c in table.columns and c not in required)]
    return table[keep].apply(lambda col: col.astype(str).str.strip())


def read_raw_csv(
    path: str | Path, required: list[str] = COLUMNS, optional: tuple[str, ...] = ()
) -> pd.DataFrame:
    """parse_csv() of a file; DataError naming the file when it cannot be read."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_csv(raw, str(path), required, optional)


def integer_cells(text: pd.Series, name: str) -> tuple[pd.Series, pd.Series]:
    """(values as float, first reason per cell or '') for a column of count cells.

    The common cell (plain ASCII digits, shorter than 2^53's 16) is converted at once;
    only the others go through every rule.
    """
    lengths = text.str.len()
    plain = (lengths < len(_MAX_TEXT)) & text.str.isascii() & text.str.isdigit()
    if plain.all():
        return pd.to_numeric(text).astype(float), pd.Series("", index=text.index, dtype=object)
    values = pd.Series(np.nan, index=text.index)
    reason = pd.Series("", index=text.index, dtype=object)
    values[plain] = pd.to_numeric(text[plain]).astype(float)
    rest = ~plain
    values[rest], reason[rest] = every_rule(text[rest], name)
    return values, reason


def every_rule(text: pd.Series, name: str) -> tuple[pd.Series, pd.Series]:
    """integer_cells() of cells that are not plain digits: each rule, with its reason."""
    reason = pd.Series("", index=text.index, dtype=object)
    digits = text.str.match(_DIGITS)
    whole = text.str.lstrip("+").str.split(".", n=1).str[0].str.lstrip("0")
    # compared as text: a float cannot tell 2^53 + 1 from 2^53
    too_long = digits & (
        (whole.str.len() > len(_MAX_TEXT))
        | ((whole.str.len() == len(_MAX_TEXT)) & (whole > _MAX_TEXT))
    )
    values = pd.to_numeric(text.where(digits & ~too_long, ""), errors="coerce").astype(float)
    number = pd.to_numeric(text.where(~digits, ""), errors="coerce").astype(float)
    reason[text == ""] = f"missing {name}"
    left = reason == ""
    reason[left & ~digits & (number < 0)] = f"negative {name}"
    left = reason == ""
    reason[left & ~digits & np.isfinite(number) & (number != np.floor(number))] = (
        f"non-integer {name}"
    )
    left = reason == ""
    big = too_long | (~digits & np.isfinite(number) & (number > MAX_INT))
    reason[left & big] = f"{name} above 2^53"
    reason[(reason == "") & ~digits] = f"non-numeric {name}"
    return values.where(reason == ""), reason


def validate_rows(
    raw: pd.DataFrame, allow_unlabelled: bool = False, values: dict | None = None
) -> tuple[pd.Series, pd.Series]:
    """Per row: True when valid, and the first reason a row is bad ('' when valid).

    values: filled with each count column's numbers (for clean_rows, so no cell is
    checked twice)."""
    values = {} if values is None else values
    reason = pd.Series("", index=raw.index, dtype=object)

    def flag(bad: pd.Series) -> None:
        reason[(bad != "") & (reason == "")] = bad[(bad != "") & (reason == "")]

    if ID_COLUMN in raw:
        ids = raw[ID_COLUMN]
        conditions = [ids == "", ids.str.len() > MAX_ID_CHARS, ids.str.contains(_CONTROL)]
        texts = [
            f"missing {ID_COLUMN}",
            f"{ID_COLUMN} longer than {MAX_ID_CHARS} characters",
            f"control character in {ID_COLUMN}",
        ]
        flag(pd.Series(np.select(conditions, texts, ""), index=raw.index))
    for col in [c for c in FEATURES if c in raw]:
        values[col], bad = integer_cells(raw[col], col)
        flag(bad)
    if TARGET in raw:
        target = raw[TARGET]
        empty = target == ""
        fine = target.isin(["0", "1", "0.0", "1.0"]) | (empty & allow_unlabelled)
        texts = ["", f"missing {TARGET}"]
        flag(pd.Series(np.select([fine, empty], texts, f"{TARGET} not 0 or 1"), index=raw.index))
    return reason == "", reason


def clean_rows(raw: pd.DataFrame, allow_unlabelled: bool = False) -> tuple[pd.DataFrame, Counter]:
    """Valid rows with typed columns, and a count of bad rows per reason.

    Counts become int64; `exited` becomes Int64 (nullable: <NA> for an unlabelled row).
    """
    values: dict[str, pd.Series] = {}
    valid, reason = validate_rows(raw, allow_unlabelled, values)
    reasons = Counter(reason[~valid].tolist())
    clean = raw[valid].copy()
    for col in [c for c in FEATURES if c in clean]:
        clean[col] = values[col][valid].astype("int64")
    if TARGET in clean:
        target = pd.to_numeric(clean[TARGET].replace("", None), errors="coerce")
        clean[TARGET] = target.astype("Int64") if allow_unlabelled else target.astype("int64")
    if ID_COLUMN in clean:
        clean[ID_COLUMN] = clean[ID_COLUMN].astype(str)
    return clean.reset_index(drop=True), reasons


def describe(reasons: Counter) -> str:
    """'non-numeric x: 2, negative y: 1', most frequent first."""
    return ", ".join(f"{text}: {n}" for text, n in reasons.most_common())


def load_dataset(path: str | Path, required: list[str] = COLUMNS) -> pd.DataFrame:
    """A schema-checked labelled dataset (training, test data); any bad row is an error."""
    clean, reasons = clean_rows(read_raw_csv(path, required))
    if reasons:
        raise DataError(f"{Path(path)}: {sum(reasons.values())} bad row(s): {describe(reasons)}")
    return clean


def feature_frame(data: pd.DataFrame, source: str) -> pd.DataFrame:
    """The FEATURES columns of data as validated int64; DataError naming the source, the
    first bad cell's column and 1-based row, and the count of bad rows otherwise."""
    missing = [c for c in FEATURES if c not in data.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}")
    text = data[FEATURES].reset_index(drop=True).apply(lambda col: col.astype(str).str.strip())
    clean, reasons = clean_rows(text)
    if reasons:
        _, why = validate_rows(text)
        row = int(np.flatnonzero((why != "").to_numpy())[0])
        col = next(c for c in FEATURES if why.iloc[row].endswith(c))
        raise DataError(
            f"{source}: column {col} row {row + 1}: {text[col].iloc[row]!r} is not a count "
            f"({why.iloc[row]}); {sum(reasons.values())} bad row(s): {describe(reasons)}"
        )
    return clean[FEATURES]


def observations_frame(rows: list[tuple]) -> pd.DataFrame:
    """Store rows (seq, *COLUMNS) as a frame: seq, typed columns, exited Int64 (<NA> when
    unlabelled)."""
    frame = pd.DataFrame(rows, columns=["seq", *COLUMNS])
    frame[ID_COLUMN] = frame[ID_COLUMN].astype(str)
    for col in FEATURES:
        frame[col] = frame[col].astype("int64")
    frame[TARGET] = frame[TARGET].astype("Int64")
    return frame
