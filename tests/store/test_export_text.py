"""finaldata.csv's text made a column at a time (store/files.py columns_csv) is byte for
byte the csv module's (rows_csv), whatever the cells hold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_assessment.core.columns import DEFAULT_SCHEMA
from risk_assessment.store.files import cell_texts, columns_csv, rows_csv

ZEROS = st.sampled_from([0.0, -0.0, 1e-05, 1e16, -2.5, 0.1 + 0.2, 123456789.125])
KINDS = {
    "int": st.integers(-(2**53), 2**53) | st.sampled_from([0, 1, 7]),
    "float": st.floats(allow_nan=False, allow_infinity=False) | ZEROS,
    "text": st.text(min_size=1, max_size=8) | st.sampled_from(["pro", "a,b", 'q"', "x\ny"]),
    "other": st.booleans() | st.integers(0, 3) | st.floats(0, 1),  # mixed: left to csv
}


@st.composite
def columns(draw) -> list[list]:
    """2-6 columns of 1-40 rows, each of one kind (or mixed), some cells missing."""
    rows = draw(st.integers(1, 40))
    out = []
    for _ in range(draw(st.integers(2, 6))):
        cell = KINDS[draw(st.sampled_from(sorted(KINDS)))]
        missing = draw(st.booleans())
        out.append(
            draw(st.lists(st.none() | cell if missing else cell, min_size=rows, max_size=rows))
        )
    return out


@settings(max_examples=300, deadline=None)
@given(columns())
def test_columns_are_written_as_the_csv_module_writes_their_rows(cols):
    rows = list(zip(*cols, strict=True))
    assert columns_csv(cols, DEFAULT_SCHEMA) == rows_csv(rows, DEFAULT_SCHEMA, header=False)


def test_repeated_numbers_are_formatted_once_and_signed_zeros_kept():
    """A column of few distinct numbers goes through the table of distinct values, which
    holds 0.0 and -0.0 as one key: each is still written as it is."""
    values = [0.0, -0.0, 2.5, 0.0, -0.0, 2.5, 2.5, 2.5] * 3
    assert cell_texts(values) == [str(v) for v in values]
    assert cell_texts([1, None, 1, 1, None, 1]) == ["1", "", "1", "1", "", "1"]


def test_text_the_csv_module_would_quote_is_left_to_it():
    assert cell_texts(["plain", None]) == ["plain", ""]
    assert cell_texts(["a,b", "c"]) is None and cell_texts(["tab\there"]) is None
    assert cell_texts([True, False]) is None and cell_texts([1, 2.5]) is None
