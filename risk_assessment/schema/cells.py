"""The rules of one cell, by the schema's type: the one validation path of every value.

Files, database rows, finaldata.csv, the test data and API requests all arrive here as
stripped text cells, so ingestion and the API accept and refuse exactly the same values
with the same reasons:
- integer: digits (12, +12, -3 when the minimum allows it, 12.0), |x| <= 2^53 (every such
  integer is exact in a float, so numpy, pandas, JSON and SQLite agree on it);
- number: a finite decimal (1.5, -2e3), |x| <= 2^53;
- min/max: inclusive bounds of integer and number features;
- category: text without control characters; outside `levels` (when declared) is refused;
- boolean: true/false, yes/no, y/n or 1/0 in any case, as 1/0;
- an empty cell is refused unless the feature says "required": false (then NaN).
Each rule returns (typed values, reason per cell, '' when fine). Standard library, numpy
and pandas only.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from risk_assessment.core.columns import (  # noqa: F401 (cells.TRUE_WORDS stays importable)
    BOOLEAN_FORMS,
    FALSE_WORDS,
    TRUE_WORDS,
    ColumnSchema,
    Feature,
)

MAX_INT = 2**53  # the largest magnitude accepted (documented in the README)
MAX_TEXT_CHARS = 200  # a longer id or category is a wrong export, not a client
_MAX_TEXT = str(MAX_INT)
_DIGITS = r"^[+-]?[0-9]+(?:\.0*)?$"  # 12, +12, -3, 12.0: integers as spreadsheets write them
_DECIMAL = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_FRACTION = r"^[+-]?[0-9]*\.[0-9]*[1-9][0-9]*$"  # a decimal with a non-zero fraction digit
# A line break, tab or other control character in an id is a broken export, not a client
# (and a carriage return would split the row when finaldata.csv is read again).
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"


def no_reason(index: pd.Index) -> pd.Series:
    """A reason per cell, all empty."""
    return pd.Series("", index=index, dtype=object)


def set_reason(reason: pd.Series, bad: pd.Series, text: str) -> None:
    """Give cells that are bad and have no reason yet this reason (first rule wins)."""
    reason[bad & (reason == "")] = text


def bounds(values: pd.Series, reason: pd.Series, feature: Feature) -> None:
    """The inclusive min/max of a numeric feature; 'negative x' when the minimum is 0."""
    name, low, high = feature.name, feature.min, feature.max
    if low is not None:
        text = f"negative {name}" if low == 0 else f"{name} below min {low:g}"
        set_reason(reason, values < low, text)
    if high is not None:
        set_reason(reason, values > high, f"{name} above max {high:g}")


def integer_cells(text: pd.Series, feature: Feature) -> tuple[pd.Series, pd.Series]:
    """(values as float, reason per cell) of an integer column.

    The common cell (plain ASCII digits, shorter than 2^53's 16) is converted at once;
    only the others go through every rule.
    """
    name = feature.name
    plain = (text.str.len() < len(_MAX_TEXT)) & text.str.isascii() & text.str.isdigit()
    if plain.all():
        values, reason = pd.to_numeric(text).astype(float), no_reason(text.index)
    else:
        values, reason = pd.Series(np.nan, index=text.index), no_reason(text.index)
        values[plain] = pd.to_numeric(text[plain]).astype(float)
        rest = ~plain
        values[rest], reason[rest] = integer_rules(text[rest], name)
    bounds(values, reason, feature)
    return values.where(reason == ""), reason


def integer_rules(text: pd.Series, name: str) -> tuple[pd.Series, pd.Series]:
    """integer_cells() of cells that are not plain digits: each rule, with its reason."""
    reason = no_reason(text.index)
    digits = text.str.match(_DIGITS) & text.str.isascii()
    whole = text.str.lstrip("+-").str.split(".", n=1).str[0].str.lstrip("0")
    # compared as text: a float cannot tell 2^53 + 1 from 2^53
    too_long = digits & (
        (whole.str.len() > len(_MAX_TEXT))
        | ((whole.str.len() == len(_MAX_TEXT)) & (whole > _MAX_TEXT))
    )
    values = pd.to_numeric(text.where(digits & ~too_long, ""), errors="coerce").astype(float)
    decimal = text.str.match(_DECIMAL) & text.str.isascii()
    number = pd.to_numeric(text.where(decimal & ~digits, ""), errors="coerce").astype(float)
    set_reason(reason, text == "", f"missing {name}")
    # a fraction a float cannot hold near 2^53 (9007199254739992.5) is still a fraction
    fraction = text.str.match(_FRACTION) & text.str.isascii() & (number.abs() <= MAX_INT)
    set_reason(reason, ~digits & np.isfinite(number) & (number != np.floor(number)),
               f"non-integer {name}")  # fmt: skip
    set_reason(reason, ~digits & fraction, f"non-integer {name}")
    big = too_long | (~digits & np.isfinite(number) & (number.abs() > MAX_INT))
    set_reason(reason, big, f"{name} above 2^53")
    set_reason(reason, ~digits, f"non-numeric {name}")
    return values.where(reason == ""), reason


def number_cells(text: pd.Series, feature: Feature) -> tuple[pd.Series, pd.Series]:
    """(values as float, reason per cell) of a number column: finite decimals."""
    name, reason = feature.name, no_reason(text.index)
    decimal = text.str.match(_DECIMAL) & text.str.isascii()
    values = pd.to_numeric(text.where(decimal, ""), errors="coerce").astype(float)
    set_reason(reason, text == "", f"missing {name}")
    set_reason(reason, ~decimal, f"non-numeric {name}")
    set_reason(reason, ~np.isfinite(values) | (values.abs() > MAX_INT), f"{name} above 2^53")
    bounds(values, reason, feature)
    return values.where(reason == ""), reason


def category_cells(text: pd.Series, feature: Feature) -> tuple[pd.Series, pd.Series]:
    """(values as text, reason per cell) of a category column; a declared level matches in
    any case and is stored as the schema spells it."""
    name, reason = feature.name, no_reason(text.index)
    set_reason(reason, text == "", f"missing {name}")
    set_reason(reason, text.str.len() > MAX_TEXT_CHARS, f"{name} longer than 200 characters")
    set_reason(reason, text.str.contains(_CONTROL), f"control character in {name}")
    values = text.astype(object)
    if feature.levels is not None:
        spelled = {level.strip().lower(): level for level in feature.levels}
        values = text.str.lower().map(spelled)
        set_reason(reason, values.isna(), f"{name} not one of its levels")
    return values.where(reason == ""), reason


def boolean_cells(text: pd.Series, feature: Feature) -> tuple[pd.Series, pd.Series]:
    """(values as 1.0/0.0, reason per cell) of a boolean column."""
    name, reason = feature.name, no_reason(text.index)
    lower = text.str.lower()
    values = pd.Series(np.nan, index=text.index)
    values[lower.isin(TRUE_WORDS)], values[lower.isin(FALSE_WORDS)] = 1.0, 0.0
    set_reason(reason, text == "", f"missing {name}")
    set_reason(reason, values.isna(), f"{name} not {BOOLEAN_FORMS}")
    return values.where(reason == ""), reason


RULES = {
    "integer": integer_cells,
    "number": number_cells,
    "category": category_cells,
    "boolean": boolean_cells,
}


def feature_cells(text: pd.Series, feature: Feature) -> tuple[pd.Series, pd.Series]:
    """(typed values, reason per cell) of one feature's column; an empty cell of a feature
    that is not required is a missing value (NaN), not a reason."""
    values, reason = RULES[feature.type](text, feature)
    if not feature.required:
        reason = reason.where(text != "", "")
    return values, reason


def id_cells(text: pd.Series, name: str) -> pd.Series:
    """The reason per cell of the id column (ids are kept as text exactly as written)."""
    reason = no_reason(text.index)
    set_reason(reason, text == "", f"missing {name}")
    set_reason(reason, text.str.len() > MAX_TEXT_CHARS, f"{name} longer than 200 characters")
    if re.search(_CONTROL, "".join(text.tolist())):  # one look at the column: ids rarely have any
        set_reason(reason, text.str.contains(_CONTROL), f"control character in {name}")
    return reason


def target_cells(
    text: pd.Series, schema: ColumnSchema, allow_unlabelled: bool
) -> tuple[pd.Series, pd.Series]:
    """(1.0 exited / 0.0 stayed / NaN unlabelled, reason per cell) of the target column:
    1/0, or the schema's positive/negative labels in any case."""
    target, name = schema.target, schema.target.column
    lower = text.str.lower()
    yes, no = ["1", "1.0"], ["0", "0.0"]
    if target.positive is not None:
        yes, no = [*yes, target.positive.strip().lower()], [*no, target.negative.strip().lower()]
    values = pd.Series(np.nan, index=text.index)
    values[lower.isin(yes)], values[lower.isin(no)] = 1.0, 0.0
    reason = no_reason(text.index)
    if not allow_unlabelled:
        set_reason(reason, text == "", f"missing {name}")
    words = "0 or 1" if target.positive is None else f"{target.positive} or {target.negative}"
    set_reason(reason, values.isna() & (text != ""), f"{name} not {words}")
    return values, reason


def value_cells(text: pd.Series, name: str) -> tuple[pd.Series, pd.Series]:
    """(values, reason per cell) of the value column: a non-negative number, may be empty."""
    feature = Feature(name, "number", min=0, required=False)
    return feature_cells(text, feature)
