"""Data tests: the shipped files are reproducible, follow the schema, and drift as intended."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from risk_assessment.core.settings import DEFAULTS
from risk_assessment.modelling import training
from risk_assessment.samples import course as generate_data
from risk_assessment.schema.dataset import load_dataset
from tests.conftest import (  # the default schema's columns
    COLUMNS,
    FEATURES,
    HEADER,
    ID_COLUMN,
    ROOT,
    TARGET,
)

SHIPPED = [
    "practicedata/dataset1.csv",
    "practicedata/dataset2.csv",
    "sourcedata/dataset3.csv",
    "sourcedata/dataset4.csv",
    "testdata/testdata.csv",
]
PRACTICE = SHIPPED[:2]
SOURCE = SHIPPED[2:4]


@pytest.fixture(scope="module")
def shipped_data() -> dict[str, pd.DataFrame]:
    """Every shipped file, loaded through the schema-checking loader."""
    return {rel: load_dataset(ROOT / rel) for rel in SHIPPED}


def combined(data: dict[str, pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """Several shipped files as one frame."""
    return pd.concat([data[n] for n in names], ignore_index=True)


CURRENT = "practicedata/dataset_current.csv"


def test_shipped_files_are_reproduced_byte_for_byte():
    """shipped_files() regenerates exactly the committed data files."""
    files = generate_data.shipped_files()
    assert sorted(files) == sorted([*SHIPPED, CURRENT])
    for rel, text in files.items():
        assert (ROOT / rel).read_bytes() == text.encode("utf-8"), rel


def test_columns_and_ids(shipped_data):
    """Every file has the schema's columns; ids are 4 lowercase letters."""
    for rel, data in shipped_data.items():
        assert list(data.columns) == COLUMNS, rel
        assert data[ID_COLUMN].str.fullmatch("[a-z]{4}").all(), rel


def test_ids_unique_except_intended_duplicates(shipped_data):
    """Each client id appears once, except dataset2's exact copies of dataset1 rows."""
    k = generate_data.DUPLICATES_IN_DATASET2
    first, second = shipped_data[PRACTICE[0]], shipped_data[PRACTICE[1]]
    copies = second.merge(first, how="inner", on=COLUMNS)
    assert len(copies) == k
    assert second[ID_COLUMN].isin(first[ID_COLUMN]).sum() == k
    everything = combined(shipped_data, SHIPPED).drop_duplicates()
    assert len(everything) == sum(len(d) for d in shipped_data.values()) - k
    assert everything[ID_COLUMN].is_unique


def test_counts_are_non_negative_integers(shipped_data):
    """Activity and employee counts are integers of at least zero."""
    for rel, data in shipped_data.items():
        for col in FEATURES:
            assert pd.api.types.is_integer_dtype(data[col]), (rel, col)
            assert (data[col] >= 0).all(), (rel, col)


def test_exited_is_binary_minority(shipped_data):
    """exited is 0 or 1 and the exits are a minority class in every file."""
    for rel, data in shipped_data.items():
        assert set(data[TARGET].unique()) == {0, 1}, rel
        assert 0.1 <= data[TARGET].mean() <= 0.5, rel


def test_about_ten_thousand_rows(shipped_data):
    """The shipped data has about 10,000 rows, the company's size."""
    assert 9_000 <= sum(len(d) for d in shipped_data.values()) <= 11_000


def test_source_data_is_shifted(shipped_data):
    """Source clients are bigger and busier than practice clients, and exit at another rate."""
    practice, source = combined(shipped_data, PRACTICE), combined(shipped_data, SOURCE)
    for col in ["number_of_employees", "lastyear_activity"]:
        assert source[col].mean() > 1.3 * practice[col].mean(), col
    assert abs(source[TARGET].mean() - practice[TARGET].mean()) > 0.1


def test_practice_model_degrades_on_source_data(shipped_data):
    """A model fit on practice data scores an F1 at least 0.2 lower on source data."""
    practice = combined(shipped_data, PRACTICE).drop_duplicates()
    source = combined(shipped_data, SOURCE)
    train, held_out = train_test_split(
        practice, test_size=0.3, random_state=0, stratify=practice[TARGET]
    )
    model = training.build_model(DEFAULTS["training"])
    model.fit(train[FEATURES], train[TARGET])
    f1_practice = f1_score(held_out[TARGET], model.predict(held_out[FEATURES]))
    f1_source = f1_score(source[TARGET], model.predict(source[FEATURES]))
    assert f1_practice - f1_source >= 0.2, (f1_practice, f1_source)


def test_large_file_has_schema_and_is_deterministic(tmp_path):
    """large_file(1000) gives a header and 1000 valid rows, the same text every time."""
    text = generate_data.large_file(1000)
    assert text == generate_data.large_file(1000)
    lines = text.splitlines()
    assert lines[0] == HEADER and len(lines) == 1001
    path = tmp_path / "large.csv"
    path.write_text(text, encoding="utf-8")
    data = load_dataset(path)
    assert len(data) == 1000 and list(data.columns) == COLUMNS
    assert data[ID_COLUMN].is_unique


def test_current_clients_are_unlabelled_practice_clients_who_stayed(shipped_data):
    """dataset_current.csv: 1,000 practice clients with exited = 0, re-observed, exited empty."""
    current = pd.read_csv(ROOT / CURRENT, dtype=str, keep_default_na=False)
    assert list(current.columns) == COLUMNS and len(current) == 1000
    assert (current[TARGET] == "").all() and current[ID_COLUMN].is_unique
    practice = combined(shipped_data, PRACTICE)
    stayed = set(practice.loc[practice[TARGET] == 0, ID_COLUMN])
    assert set(current[ID_COLUMN]) <= stayed
