"""infer.py and `ingestion.py --infer-schema`: a schema block guessed from a user's file,
every guess listed, that config.json's loader accepts."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_assessment.core.columns import DEFAULT_SCHEMA, parse_schema
from risk_assessment.core.common import DataError
from risk_assessment.core.settings import load_config
from risk_assessment.samples import saas
from risk_assessment.sources import infer
from tests.conftest import ROOT, run_script

SAAS_HEADER = (
    "Client_ID,seats,monthly_spend,NPS,industry,auto_renew,notes,annual_contract_value,churned"
)


def saas_rows(n: int = 40) -> list[str]:
    """Rows of a small SaaS export: every type, an empty optional cell, text target labels."""
    rows = []
    for i in range(n):
        spend = "" if i % 10 == 3 else f"{100 + 7.25 * i:.2f}"
        industry = ["retail", "finance", "health"][i % 3]
        renew = "TRUE" if i % 2 else "false"
        churned = "yes" if i % 4 == 0 else "no"
        rows.append(
            f"acct-{i:04d},{5 + i},{spend},{(i * 37) % 201 - 100},{industry},{renew},,"
            f"{1200 + 10 * i},{churned}"
        )
    return rows


def write(path, header: str, rows: list[str]):
    """A CSV file of header and rows; returns its path."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def parsed(block: str):
    """The ColumnSchema of a printed block, read as config.json would hold it."""
    return parse_schema(json.loads("{" + block + "}")["schema"], "pasted block")


def test_a_saas_export_gets_every_type_role_and_bound(tmp_path):
    """Types from content, id/target/value by name, min 0 only where no value is negative,
    required false where cells are empty, an all-empty column left out; loads as a schema."""
    block, notes = infer.infer_file(write(tmp_path / "a.csv", SAAS_HEADER, saas_rows()))
    schema = parsed(block)
    assert schema.id == "client_id"
    assert (schema.target.column, schema.target.positive, schema.target.negative) == (
        "churned", "yes", "no",
    )  # fmt: skip
    assert schema.value == "annual_contract_value"
    kinds = {f.name: (f.type, f.min, f.required) for f in schema.features}
    assert kinds == {
        "seats": ("integer", 0, True),
        "monthly_spend": ("number", 0, False),
        "nps": ("integer", None, True),
        "industry": ("category", None, True),
        "auto_renew": ("boolean", None, True),
    }
    text = "\n".join(notes)
    assert "notes: every cell empty, left out" in text
    assert "monthly_spend: number" in text and "4 of 40 cells empty" in text
    assert "exited = 'yes'" in text and "3 levels ('retail', 'finance', 'health')" in text


def test_content_decides_when_names_say_nothing(tmp_path):
    """No id-like name: the first unique text column; no target-like name: the last
    two-valued column, whose rarer label is the exit; both notes ask to check."""
    rows = [
        f"{'abcdefghij'[i % 10]}{i},{i % 5},{'gone' if i % 5 == 0 else 'here'}" for i in range(30)
    ]
    schema, notes = infer.infer_schema(
        infer.read_table(write(tmp_path / "b.csv", "who,n,mark", rows))
    )
    assert schema["id"] == "who"
    assert schema["target"] == {"column": "mark", "positive": "gone", "negative": "here"}
    assert "check" in notes[0] and "check" in notes[1]
    assert schema["features"] == {"n": {"type": "integer", "min": 0}}


def test_zero_one_target_and_booleans(tmp_path):
    """A 0/1 column named like the target is today's target; other 0/1 or yes/no columns
    are booleans; an empty target cell is noted as an unlabelled client."""
    rows = [
        f"c{i},{i % 2},{'Yes' if i % 3 else 'NO'},{-i * 0.5},{'' if i == 7 else i % 2}"
        for i in range(20)
    ]
    schema, notes = infer.infer_schema(
        infer.read_table(write(tmp_path / "c.csv", "id,flag,renews,delta,exited", rows))
    )
    assert schema["target"] == "exited"
    assert schema["features"] == {
        "flag": {"type": "boolean"},
        "renews": {"type": "boolean"},
        "delta": {"type": "number"},
    }
    assert "1 empty cells are unlabelled" in notes[1]


def test_a_length_of_contract_is_not_its_value(tmp_path):
    """contract_months names a contract but counts months: a feature; revenue is the value."""
    rows = [f"c{i},{12 * (1 + i % 3)},{1000 + i},{i % 2}" for i in range(12)]
    path = write(tmp_path / "v.csv", "client,contract_months,revenue,exited", rows)
    schema, notes = infer.infer_schema(infer.read_table(path))
    assert schema["value"] == "revenue" and "contract_months" in schema["features"]
    assert any(n.startswith("value: revenue") for n in notes)


def test_the_course_files_give_the_course_schema():
    """Inferred from a shipped file, the schema is the course's default (types and bounds)."""
    block, _ = infer.infer_file(ROOT / "practicedata" / "dataset1.csv")
    schema = parsed(block)
    assert schema.id == DEFAULT_SCHEMA.id and schema.target == DEFAULT_SCHEMA.target
    assert [(f.name, f.type, f.min) for f in schema.features] == [
        (f.name, f.type, f.min) for f in DEFAULT_SCHEMA.features
    ]


def test_no_target_is_a_data_error_naming_the_file(tmp_path):
    """Without a two-valued column there is no target to guess: DataError naming the file."""
    path = write(tmp_path / "d.csv", "id,x", [f"c{i},{i}" for i in range(10)])
    with pytest.raises(DataError, match=r"d\.csv: no column looks like the target"):
        infer.infer_file(path)


def test_the_script_prints_the_block_on_stdout_and_the_guesses_on_stderr(tmp_path):
    """Exit 0; stdout is only the block (it parses); each guess is a line on stderr."""
    path = write(tmp_path / "a.csv", SAAS_HEADER, saas_rows())
    done = run_script("ingestion.py", "--infer-schema", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert parsed(done.stdout).value == "annual_contract_value"
    guesses = [line for line in done.stderr.splitlines() if line.startswith("guess: ")]
    assert len(guesses) >= 8 and guesses[0].startswith("guess: id: client_id")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("", "empty file"),
        ("id,exited\n", "header only, no data rows"),
        ("id,x,x\na,1,0\n", "named twice"),
        ("id,exited\na,1,2\n", "malformed CSV"),
        (b"id,exited\n\xff\xfe,1\n", "not UTF-8"),
        ("id;seats;exited\na;1;0\n", "separated by ';'"),
    ],
)
def test_a_bad_file_is_one_line_and_exit_1(tmp_path, content, message):
    """Missing, empty, header-only, malformed or non-UTF-8: one line naming it, no traceback."""
    path = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    done = run_script("ingestion.py", "--infer-schema", str(path), cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.csv" in lines[0] and message in lines[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # before: "header only, no data rows" (ingestion: "binary content")
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01", "binary content, not a CSV file"),
        # before: "malformed CSV (Error tokenizing data. C error: Expected 1 fields ...)"
        (
            b"id;region;spend;exited\na;Nord, Pas-de-Calais;-2,349;1\n",
            "fields separated by ';': save it as comma-separated",
        ),
        (
            "id,name,exited\na,b,1\nc,Société,0\n".encode("cp1252"),
            "not UTF-8 text (line 3: byte 0xe9; looks like Latin-1/Windows-1252?): save it",
        ),
        ("id,exited\na,1\n".encode("utf-16"), "(line 1: byte 0xff; looks like UTF-16)"),
    ],
)
def test_a_file_is_read_and_refused_as_ingestion_reads_it(tmp_path, content, message):
    """--infer-schema reads a file through ingestion's checks: the same one line."""
    from risk_assessment.schema.dataset import parse_csv

    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as inferred:
        infer.read_table(path)
    with pytest.raises(DataError) as ingested:
        parse_csv(content, str(path))
    assert str(inferred.value) == str(ingested.value)
    assert str(inferred.value).startswith(f"{path}: ") and message in str(inferred.value)


def guess(tmp_path, header: str, rows: list[str]) -> tuple[dict, str]:
    """(schema, notes joined) guessed from a file of header and rows."""
    schema, notes = infer.infer_schema(infer.read_table(write(tmp_path / "g.csv", header, rows)))
    return schema, "\n".join(notes)


def test_y_n_is_a_boolean(tmp_path):
    """A Y/N column (the rules take y/n) is guessed boolean; before: a category."""
    rows = [f"c{i},{'Y' if i % 3 else 'N'},{i % 2}" for i in range(30)]
    schema, notes = guess(tmp_path, "id,paperless,exited", rows)
    assert schema["features"] == {"paperless": {"type": "boolean"}}
    assert "paperless: boolean (n / y)" in notes


def test_free_text_is_left_out_and_said_so(tmp_path):
    """A notes column of nearly all distinct texts is no feature (before: a category whose
    'note 116' became a top reason); the guesses say it was left out and why."""
    rows = [
        f"c{i},{['a', 'b'][i % 2]},called on day {i} about the renewal,{i % 2}" for i in range(60)
    ]
    rows[5] = rows[5].replace("day 5", "day 4")
    schema, notes = guess(tmp_path, "id,segment,notes,exited", rows)
    assert set(schema["features"]) == {"segment"}
    assert "notes: left out: free text? (59 distinct texts in 60 cells: all or nearly all" in notes


def test_the_target_goes_by_name_and_more_labels_are_said(tmp_path):
    """A three-label status is the target, not a two-level region (before: region); the
    guesses say it has three labels; the block stays JSON the loader accepts."""
    labels = ["Active", "Active", "Churned", "Paused"]
    rows = [f"c{i},{['North', 'South'][i % 2]},{i},{labels[i % 4]}" for i in range(40)]
    schema, notes = guess(tmp_path, "id,Region,tenure,Status", rows)
    assert schema["target"] == {"column": "status", "positive": "Churned", "negative": "Active"}
    assert "region" in schema["features"]
    assert "3 labels ('Active', 'Churned', 'Paused'): rows labelled 'Paused' would be" in notes
    assert parsed(infer.schema_block(schema)).target.column == "status"
    rows = [f"c{i},{i % 7},{['North', 'South'][i % 2]},{i % 2}" for i in range(40)]
    schema, _ = guess(tmp_path, "id,months_left,region,paid", rows)  # a count, not labels
    assert schema["target"] == "paid" and "months_left" in schema["features"]


def test_labels_in_other_case_are_one_label_as_the_rules_match_them(tmp_path):
    """'Churned', 'CHURNED' and 'churned' are one label (the rules match labels in any
    case): two labels, no note that rows would be dropped (before: six labels, four of
    them said to be dropped); a column with no target-like name is found the same way."""
    labels = ["Churned", "CHURNED", "churned", "Active", "active", "ACTIVE", "Active"]
    rows = [f"c{i},{i % 9},{labels[i % 7]}" for i in range(42)]
    schema, notes = guess(tmp_path, "id,tenure,Status", rows)
    assert schema["target"] == {"column": "status", "positive": "Churned", "negative": "Active"}
    assert "would be dropped" not in notes and "labels" not in notes
    rows = [f"c{i},{i % 9},{['Yes', 'yes', 'NO', 'no'][i % 4]}" for i in range(40)]
    schema, _ = guess(tmp_path, "id,tenure,renewal_refused", rows)
    assert schema["target"]["column"] == "renewal_refused"
    target = schema["target"]
    assert {target["positive"].lower(), target["negative"].lower()} == {"yes", "no"}


def test_a_target_of_1_and_1_0_is_the_0_1_target(tmp_path):
    """A spreadsheet's 0/1 written 1, 1.0, 0, 0.0 (four texts, two labels as the rules
    read them) is the target named 'target' (before: a yes/no column was taken instead)."""
    labels = ["1", "1.0", "0", "0.0"]
    rows = [f"c{i},{['red', 'blue'][i % 2]},{['yes', 'no'][i % 3 == 0]},{labels[i % 4]}"
            for i in range(40)]  # fmt: skip
    schema, notes = guess(tmp_path, "cust,color,vip,target", rows)
    assert schema["target"] == "target" and "target: target (1 = exited, 0 = stayed)" in notes
    assert "vip" in schema["features"]


def test_numbers_with_n_a_or_dash_for_missing_are_numbers_with_a_note(tmp_path):
    """Revenue with 'N/A' and head count with '-' in a tenth of the cells are a number and
    an integer, not required, with a note that ingestion drops those rows (before: two
    categories of a level per value, 'mostly unique: free text?'); a column whose texts
    are words, not placeholders, stays a category."""
    rows = [
        f"c{i},{'N/A' if i % 10 == 3 else f'{1000 + 17.5 * i:.2f}'},"
        f"{'-' if i % 10 == 5 else 3 + i},{['7', 'gold'][i % 10 == 7]},{['yes', 'no'][i % 3 > 0]}"
        for i in range(60)
    ]
    schema, notes = guess(tmp_path, "id,revenue,staff,tier,churned", rows)
    features = schema["features"]
    assert features["revenue"] == {"type": "number", "min": 0, "required": False}
    assert features["staff"] == {"type": "integer", "min": 0, "required": False}
    assert features["tier"]["type"] == "category"
    assert "'N/A' in 6 cells read as missing here, but ingestion drops such rows" in notes
    assert "'-' in 6 cells read as missing here" in notes


def test_codes_with_leading_zeros_and_percentages_are_text_with_a_note(tmp_path):
    """Zip codes keep their zeros (a category; before: an integer, min 0); '45%' is a
    category with a note that the rules read plain numbers only."""
    zips, discounts = ["01234", "75001", "00501", "13002"], ["45%", "10%", "12.5 %"]
    rows = [f"c{i},{zips[i % 4]},{discounts[i % 3]},{i % 2}" for i in range(30)]
    schema, notes = guess(tmp_path, "id,zip,discount,exited", rows)
    assert schema["features"]["zip"] == {"type": "category"}
    assert schema["features"]["discount"] == {"type": "category"}
    assert "digits with leading zeros ('01234'): text codes" in notes
    assert "the values carry '%' ('45%'): to make it a number feature, write plain" in notes


def test_the_block_is_utf8_and_every_guess_one_line_with_levels_quoted(tmp_path):
    """A name with € is printed as written (before: \\u20ac); a level with a line break
    does not split its guess line; a level with a comma is quoted in the guesses."""
    levels = ['"Nord, Pas-de-Calais"', "Bretagne", '"two\nlines"']
    rows = [f"c{i},{levels[i % 3]},{100 + i},{i % 2}" for i in range(12)]
    path = write(tmp_path / "u.csv", "id,region,contract value (€),exited", rows)
    done = run_script("ingestion.py", "--infer-schema", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"value": "contract value (€)"' in done.stdout
    lines = done.stderr.strip().splitlines()
    assert all(line.startswith("guess: ") for line in lines)
    assert "3 levels ('Nord, Pas-de-Calais', 'Bretagne', 'two\\nlines')" in done.stderr


def test_read_table_strips_cells_and_lower_cases_headers(tmp_path):
    """' Seats ' is seats; ' 5 ' is 5 (ingestion matches headers and cells the same way)."""
    table = infer.read_table(write(tmp_path / "e.csv", " ID , Seats ", ["a, 5 "]))
    assert list(table.columns) == ["id", "seats"]
    assert table.iloc[0].tolist() == ["a", "5"]
    assert isinstance(table, pd.DataFrame)


def test_the_saas_example_is_read_back_as_its_config_declares(tmp_path):
    """Inferred from the SaaS example's first file, the schema has the roles and types of
    examples/saas/config.json (NPS, written as whole numbers, reads as an integer)."""
    text = saas.example_files()["practicedata/accounts_2025h1.csv"]
    (tmp_path / "accounts.csv").write_text(text, encoding="utf-8")
    inferred = parsed(infer.infer_file(tmp_path / "accounts.csv")[0])
    declared = load_config(ROOT / "examples" / "saas" / "config.json")["schema"]
    assert inferred.id == "client_id" and declared.aliases["client_id"] == declared.id
    assert (inferred.target, inferred.value) == (declared.target, declared.value)
    types = {f.name: f.type for f in declared.features} | {"nps": "integer"}
    assert {f.name: f.type for f in inferred.features} == types
    assert [f.name for f in inferred.features if not f.required] == ["usage_per_seat"]


NAMES = st.text("abcdefgh_ ", min_size=1, max_size=8).filter(lambda s: s.strip())
CELLS = {
    "integer": st.integers(-(10**6), 10**6).map(str),
    "number": st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.3f}"),
    "boolean": st.sampled_from(["true", "False", "YES", "no", "1", "0"]),
    "category": st.sampled_from(["north", "south", "East", "x y", "1a"]),
    "label": st.sampled_from(["yes", "no", ""]),
}


@st.composite
def tables(draw) -> pd.DataFrame:
    """Random tables: an id-ish column, then 1-8 columns of random kinds and names, with
    empty cells here and there."""
    rows = draw(st.integers(1, 30))
    names = draw(st.lists(NAMES, min_size=2, max_size=9, unique_by=lambda s: s.strip().lower()))
    data = {names[0].strip().lower(): [f"r{i}" for i in range(rows)]}
    for name in names[1:]:
        kind = draw(st.sampled_from(sorted(CELLS)))
        cells = draw(st.lists(CELLS[kind], min_size=rows, max_size=rows))
        holes = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
        data[name.strip().lower()] = [
            "" if hole and kind != "label" else cell
            for cell, hole in zip(cells, holes, strict=True)
        ]
    return pd.DataFrame(data)


@settings(max_examples=150, deadline=None)
@given(tables())
def test_any_table_gives_a_schema_the_loader_accepts_or_one_data_error(table):
    """Whatever the table: a DataError, or a schema parse_schema accepts that places every
    column with a non-empty cell exactly once (id, target, value or a feature)."""
    try:
        schema, notes = infer.infer_schema(table)
    except DataError as exc:
        assert str(exc).startswith(("no column", "target "))
        return
    parsed_schema = parse_schema(json.loads("{" + infer.schema_block(schema) + "}")["schema"])
    placed = [parsed_schema.id, parsed_schema.target.column, *parsed_schema.feature_names]
    placed += [parsed_schema.value] if parsed_schema.value else []
    placed += [n.split(": ")[0] for n in notes if ": left out: free text?" in n]
    assert sorted(placed) == sorted(c for c in table if (table[c] != "").any())
    assert len(notes) >= len(placed) - 1
