"""dataset.py, the CSV schema: data tests (headers, ids, counts, labels, nulls) on real
files in tmp_path. Model behaviour is tested in test_training.py and test_scoring.py."""

from __future__ import annotations

import pandas as pd
import pytest

from risk_assessment.core.common import DataError
from risk_assessment.schema import dataset
from tests.conftest import (  # the default schema's columns
    COLUMNS,
    FEATURES,
    HEADER,
    ID_COLUMN,
    TARGET,
    small_rows,
    write_csv,
)


def raw(*rows: tuple, header: str = HEADER) -> pd.DataFrame:
    """Rows as the parser gives them: text cells under the header."""
    text = "\n".join([header, *(",".join(map(str, r)) for r in rows)]) + "\n"
    return dataset.parse_csv(text.encode(), "t.csv")


def test_load_dataset_types_every_column(tmp_path):
    """Ids stay text, counts are int64, the label is int64: the schema's types."""
    data = dataset.load_dataset(write_csv(tmp_path / "d.csv", small_rows(12)))
    assert list(data.columns) == COLUMNS and len(data) == 12
    assert data[ID_COLUMN].map(type).eq(str).all()
    assert all(str(data[c].dtype) == "int64" for c in [*FEATURES, TARGET])


def test_header_is_matched_without_case_or_spaces_and_ids_keep_their_zeros():
    """' Exited' is exited; an id written 0012 stays 0012."""
    header = " Corporation ,LastMonth_Activity,lastyear_activity,NUMBER_OF_EMPLOYEES, Exited"
    clean, reasons = dataset.clean_rows(raw(("0012", 1, 2, 3, 1), header=header))
    assert not reasons and clean.loc[0, ID_COLUMN] == "0012"


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("", "missing lastmonth_activity"),
        ("-3", "negative lastmonth_activity"),
        ("2.5", "non-integer lastmonth_activity"),
        ("9007199254739992.5", "non-integer lastmonth_activity"),  # no float holds the .5
        ("abc", "non-numeric lastmonth_activity"),
        (str(2**53 + 1), "lastmonth_activity above 2^53"),
        ("١٢", "non-numeric lastmonth_activity"),  # Arabic-Indic digits are not counts
    ],
)
def test_a_bad_count_drops_its_row_with_its_reason(cell, reason):
    """Each rule names its column; the good row beside it is kept."""
    clean, reasons = dataset.clean_rows(raw(("a", cell, 1, 1, 0), ("b", 5, 1, 1, 0)))
    assert clean[ID_COLUMN].tolist() == ["b"] and reasons == {reason: 1}


@pytest.mark.parametrize("control", ["\r", "\n", "\t", "\x1b", "\x85"])
def test_an_id_with_a_control_character_drops_its_row(tmp_path, control):
    """A line break (or any control character) in an id is a broken export: the row is
    dropped, so finaldata.csv, written back from the store, reads as the same rows."""
    path = tmp_path / "d.csv"
    path.write_text(f'{HEADER}\n"a{control}b",1,1,1,0\nc,1,1,1,0\n', encoding="utf-8")
    clean, reasons = dataset.clean_rows(dataset.read_raw_csv(path))
    assert clean[ID_COLUMN].tolist() == ["c"] and reasons == {"control character in corporation": 1}


def test_spreadsheet_integers_and_the_bound_itself_are_counts():
    """+12 and 12.0 are 12; 2^53 is accepted."""
    clean, reasons = dataset.clean_rows(raw(("a", "+12", "12.0", 2**53, 1)))
    assert not reasons
    assert clean.loc[0, FEATURES].tolist() == [12, 12, 2**53]


@pytest.mark.parametrize("label", ["2", "yes", "-1"])
def test_label_other_than_0_or_1_drops_the_row(label):
    """exited is 0 or 1 (or 0.0/1.0 as spreadsheets write them)."""
    clean, reasons = dataset.clean_rows(raw(("a", 1, 1, 1, label), ("b", 1, 1, 1, "1.0")))
    assert clean[TARGET].tolist() == [1] and reasons == {"exited not 0 or 1": 1}


def test_empty_label_is_unlabelled_only_where_allowed():
    """An empty exited is a missing label for training, an unknown outcome (<NA>) when
    unlabelled rows are allowed (current clients)."""
    rows = raw(("a", 1, 1, 1, ""), ("b", 1, 1, 1, 0))
    strict, reasons = dataset.clean_rows(rows)
    assert strict[ID_COLUMN].tolist() == ["b"] and reasons == {"missing exited": 1}
    lenient, none = dataset.clean_rows(rows, allow_unlabelled=True)
    assert not none and lenient[TARGET].isna().tolist() == [True, False]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "empty file"),
        (b"\x00\x01binary", "binary content"),
        (b"\xff\xfe,broken", "not UTF-8"),
        (HEADER.encode() + b"\n", "header only"),
        (b"corporation,exited\na,1\n", r"missing column\(s\)"),
        (HEADER.encode() + b"\na,1,2,3,0,extra\n", "more fields than the header"),
    ],
)
def test_unreadable_files_are_one_error_naming_the_file(tmp_path, content, says):
    """Every way a file can fail to be a CSV of the schema: DataError with the file name."""
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=says) as error:
        dataset.load_dataset(path)
    assert str(path) in str(error.value)


def test_load_dataset_leaves_out_bad_rows_with_one_warning(tmp_path, caplog):
    """The training and test data's bad rows are left out, as ingestion drops them, with one
    warning naming the file, the count and the reasons; no valid row at all is an error."""
    path = write_csv(tmp_path / "d.csv", [*small_rows(4), ("x", -1, 1, 1, 0), ("y", 1, 1, 1, 7)])
    data = dataset.load_dataset(path)
    assert data[ID_COLUMN].tolist() == [r[0] for r in small_rows(4)]
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert str(path) in warning and "2 bad row(s) left out, 4 kept" in warning
    assert "negative lastmonth_activity: 1 (e.g. '-1')" in warning
    only_bad = write_csv(tmp_path / "bad.csv", [("x", -1, 1, 1, 0), ("y", 1, 1, 1, 7)])
    with pytest.raises(DataError, match=r"bad\.csv: no valid row; 2 bad row\(s\)"):
        dataset.load_dataset(only_bad)


def test_feature_frame_checks_columns_and_values():
    """The features of a frame, validated; a missing column or a bad value is a DataError."""
    frame = pd.DataFrame({c: ["1", "2"] for c in FEATURES})
    assert dataset.feature_frame(frame, "posted").dtypes.eq("int64").all()
    with pytest.raises(DataError, match="posted: missing column"):
        dataset.feature_frame(frame.drop(columns=FEATURES[0]), "posted")
    with pytest.raises(DataError, match=r"posted: column lastyear_activity row 2: '-2' is not"):
        dataset.feature_frame(frame.assign(**{FEATURES[1]: ["1", "-2"]}), "posted")


def test_observations_frame_types_store_rows():
    """Store rows become a typed frame; an unlabelled row's exited is <NA>."""
    frame = dataset.observations_frame([(1, "a", 1, 2, 3, 1), (2, "b", 4, 5, 6, None)])
    assert frame["seq"].tolist() == [1, 2] and frame[TARGET].isna().tolist() == [False, True]
    assert str(frame[TARGET].dtype) == "Int64"


def test_y_and_n_are_booleans_in_files_and_the_api_alike():
    """A Y/N column declared boolean (before: every row refused) reads as 1/0 from a file
    and from an API record; another word is refused with every accepted form named."""
    from risk_assessment.core.columns import parse_schema
    from risk_assessment.server.protocol import ApiError, from_records

    schema = parse_schema(
        {"id": "id", "target": "exited", "features": {"paperless": {"type": "boolean"}}}
    )
    text = "id,paperless,exited\na,Y,1\nb,n,0\nc,y,0\nd,N,1\ne,maybe,0\n"
    kept, reasons = dataset.clean_rows(dataset.parse_csv(text.encode(), "t.csv", schema), schema)
    assert kept["paperless"].tolist() == [1, 0, 1, 0]
    assert reasons == {"paperless not true/false, yes/no, y/n or 1/0": 1}
    records = [{"paperless": "Y"}, {"paperless": "n"}]
    assert from_records(records, "records", 10, schema).frame["paperless"].tolist() == [1, 0]
    with pytest.raises(ApiError, match=r"not true/false, yes/no, y/n or 1/0"):
        from_records([{"paperless": "maybe"}], "records", 10, schema)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # a European export: decimal commas and commas in names (before: "malformed CSV
        # (... Expected 1 fields in line 2, saw 5)")
        ("corporation;region;lastmonth_activity;exited\na;Nord, Pas-de-Calais;-2,349;1\n", "';'"),
        ("corporation;lastmonth_activity;exited\na;1;0\n", "';'"),
        ('"corporation";"name, long";"exited"\na;1,5;0\n', "';'"),
        ("corporation\tlastmonth_activity\texited\na\t1,5\t0\n", "tabs"),
    ],
)
def test_another_separator_is_named_whatever_the_rows_hold(text, says):
    """A header with more ';' (tabs, '|') than commas, outside quotes: one line saying so."""
    with pytest.raises(DataError) as error:
        dataset.parse_csv(text.encode(), "eu.csv")
    assert str(error.value) == f"eu.csv: fields separated by {says}: save it as comma-separated"


def test_a_comma_file_with_semicolons_inside_quotes_is_read():
    """Quoted header names may hold ';': the file is still comma-separated."""
    text = f'{HEADER},"notes; more; words"\na,1,2,3,0,x\n'
    assert len(dataset.parse_csv(text.encode(), "q.csv")) == 1


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (
            f"{HEADER}\na,1,2,3,0\nSociété Générale,1,2,3,0\n".encode("cp1252"),
            "q.csv: not UTF-8 text (line 3: byte 0xe9; looks like Latin-1/Windows-1252?): "
            "save it as UTF-8 (CSV UTF-8)",
        ),
        (
            f"{HEADER}\na,1,2,3,0\n".encode("utf-16"),  # with its byte-order mark
            "q.csv: not UTF-8 text (line 1: byte 0xff; looks like UTF-16): "
            "save it as UTF-8 (CSV UTF-8)",
        ),
        (
            f"{HEADER}\na,1,2,3,0\n".encode("utf-16-le"),  # without: a NUL every other byte
            "q.csv: not UTF-8 text (line 1: byte 0x00; looks like UTF-16): "
            "save it as UTF-8 (CSV UTF-8)",
        ),
    ],
)
def test_a_file_in_another_encoding_names_its_line_byte_and_the_fix(raw, says):
    """Not UTF-8: one line with the 1-based line, the byte, the encoding it looks like and
    what to do (before: the byte's offset only; UTF-16 read as binary); never guessed."""
    with pytest.raises(DataError) as error:
        dataset.parse_csv(raw, "q.csv")
    assert str(error.value) == says


def test_text_target_labels_also_take_1_and_0():
    """With {column, positive, negative}, a target cell 1/0 is read too (finaldata.csv
    writes the target as 1/0 and must read back); another label drops the row."""
    from risk_assessment.core.columns import parse_schema

    target = {"column": "churned", "positive": "Yes", "negative": "No"}
    schema = parse_schema({"id": "id", "target": target, "features": {"x": {"type": "number"}}})
    text = "id,x,churned\na,1,yes\nb,1,NO\nc,1,1\nd,1,0\ne,1,maybe\n"
    kept, reasons = dataset.clean_rows(dataset.parse_csv(text.encode(), "t.csv", schema), schema)
    assert kept["churned"].tolist() == [1, 0, 1, 0] and reasons == {"churned not Yes or No": 1}


def test_a_missing_column_names_the_columns_found_and_says_when_there_are_more(tmp_path):
    """The message lists the file's first 8 columns, and '...' when it has more."""
    header = ",".join(f"c{i}" for i in range(12))
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n" + ",".join("1" * 12) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"\(found: c0, c1, c2, c3, c4, c5, c6, c7, \.\.\.\)"):
        dataset.load_dataset(path)
