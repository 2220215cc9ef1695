"""The schema section of config.json: the course's five by default, the user's columns
otherwise, every mistake one line naming the key."""

from __future__ import annotations

import json

import pytest

from risk_assessment.core.columns import DEFAULT_SCHEMA, parse_schema
from risk_assessment.core.common import ConfigError
from risk_assessment.core.settings import load_config

ISSUE_EXAMPLE = {
    "id": "account",
    "target": {"column": "churned", "positive": "yes", "negative": "no"},
    "value": "annual_contract_value",
    "features": {
        "seats": {"type": "integer", "min": 0, "label": "licensed seats"},
        "monthly_spend": {"type": "number", "min": 0},
        "nps": {"type": "number", "min": -100, "max": 100, "label": "satisfaction (NPS)"},
        "industry": {"type": "category"},
        "region": {"type": "category", "levels": ["north", "south", "east", "west"]},
        "auto_renew": {"type": "boolean"},
    },
    "aliases": {"client_id": "account"},
}


def test_without_a_schema_the_course_five_apply(tmp_path):
    """An old config.json (the five keys only) loads with the course's columns."""
    file = tmp_path / "config.json"
    file.write_text(json.dumps({"input_folder_path": "practicedata"}))
    schema = load_config(file)["schema"]
    assert schema == DEFAULT_SCHEMA
    assert schema.columns == [
        "corporation", "lastmonth_activity", "lastyear_activity", "number_of_employees", "exited",
    ]  # fmt: skip
    assert schema.words("lastyear_activity") == "activity last year"


def test_the_documented_example_loads(tmp_path):
    """The issue's example schema loads as written, with its roles, types and labels."""
    file = tmp_path / "config.json"
    file.write_text(json.dumps({"schema": ISSUE_EXAMPLE}))
    schema = load_config(file)["schema"]
    assert schema.id == "account" and schema.target.positive == "yes"
    assert schema.value == "annual_contract_value"
    assert schema.feature("region").levels == ("north", "south", "east", "west")
    assert schema.words("nps") == "satisfaction (NPS)" and schema.words("industry") == "industry"
    assert schema.columns[-1] == "annual_contract_value"
    assert parse_schema(schema.to_dict()) == schema
    assert schema.fingerprint() != DEFAULT_SCHEMA.fingerprint()


def variant(**change):
    """The example with some keys replaced (None removes a key)."""
    spec = json.loads(json.dumps(ISSUE_EXAMPLE))
    for key, value in change.items():
        if value is None:
            spec.pop(key)
        else:
            spec[key] = value
    return spec


BAD = [
    (variant(features={"a": {"type": "decimal"}}), "features.a.type"),
    (variant(features={"a": {"type": "number", "min": 5, "max": 1}}), "min 5 is above max 1"),
    (variant(features={"a": {"type": "category", "levels": []}}), "features.a.levels"),
    (variant(features={"account": {"type": "number"}}), "account is the id column"),
    (variant(features={"churned": {"type": "number"}}), "churned is the target column"),
    (variant(features={"a": {"type": "number"}, "A": {"type": "integer"}}), "a named twice"),
    (variant(features={"a": {"type": "number", "colour": 1}}), "unknown key(s) colour"),
    (variant(features={"a": {"type": "boolean", "min": 0}}), "features.a.min"),
    (variant(target={"column": "churned", "positive": "yes"}), "target"),
    (variant(id=None), "schema.id"),
    (variant(features={}), "features must be an object"),
    (variant(aliases={"x": "nosuchcolumn"}), "nosuchcolumn is not a column"),
    (variant(extra=1), "unknown key(s) extra"),
    # the value column is the id or the target (in any case), or a feature in other case:
    # before, every file was refused, the label stored as value, or ingestion crashed
    (variant(value="account"), "value: account is the id column"),
    (variant(value="Churned"), "value: Churned is the target column"),
    (variant(value="SEATS"), "value: SEATS is the feature seats in other case"),
    # names the answers use themselves: before, create_app failed (TypeError) or the risk
    # list's rank or the stored rows' seq was overwritten
    (variant(id="rank"), "schema.id: rank is a name the API and the risk list use"),
    (variant(id="prediction"), "schema.id: prediction is a name"),
    (variant(value="exit_probability"), "schema.value: exit_probability is a name"),
    (variant(features={"seq": {"type": "number"}}), "schema.features: seq is a name"),
    # before, each of these loaded and was silently ignored, or refused every file later
    (variant(features={"a": {"type": "number", "min": float("nan")}}), "a.min must be a finite"),
    (variant(features={"a": {"type": "number", "max": float("inf")}}), "a.max must be a finite"),
    (variant(features={"a": {"type": "integer", "min": float("-inf")}}), "a.min must be a fin"),
    (variant(features={"a": {"type": "number", "min": "0"}}), "a.min must be a number"),
    (variant(features={"": {"type": "number"}}), "features: a feature named ''"),
    (variant(features={"  ": {"type": "number"}}), "features: a feature named '  '"),
    (variant(id=" "), "schema.id must be a column name"),
    (variant(value=""), "schema.value must be a column name"),
    # the value with its plain words: {column, label}
    (variant(value={"label": "contract value"}), "schema.value.column must be a column name"),
    (variant(value={"column": "acv", "size": 1}), "schema.value: unknown key(s) size"),
    (variant(value={"column": "acv", "label": 5}), "schema.value.label must be a text"),
    (variant(value={"column": "acv", "label": " "}), "schema.value.label is empty"),
    (variant(value={"column": "account", "label": "x"}), "value: account is the id column"),
    (variant(target=""), "schema.target must be a column name"),
    (variant(target={"column": " ", "positive": "y", "negative": "n"}), "schema.target:"),
    (variant(aliases={"Account ": "account"}), "aliases.Account : the header Account  is"),
    (variant(aliases={"SEATS": "seats"}), "aliases.SEATS: the header SEATS is already"),
    (variant(aliases={"Client": "account", "client ": "account"}), "aliases.client : the h"),
    (variant(aliases={" ": "account"}), "aliases: an empty header name"),
    (
        variant(features={"t": {"type": "category", "levels": ["Gold", "silver", "gold"]}}),
        "t.levels: 'Gold' and 'gold' are one level",
    ),
    (variant(features={"t": {"type": "category", "levels": ["a\nb"]}}), "t.levels: 'a\\nb'"),
    (variant(features={"a": {"type": "number", "label": ""}}), "features.a.label is empty"),
    (variant(features={"a": {"type": "number", "label": " "}}), "features.a.label is empty"),
    (variant(features={"a": {"type": "number", "label": "x\ny"}}), "a.label: 'x\\ny' holds"),
    (variant(features={"a": {"type": "number", "label": "tab\there"}}), "a.label: 'tab\\t"),
    (
        variant(
            features={
                "a": {"type": "number", "label": "Spend"},
                "b": {"type": "number", "label": "spend "},
            }
        ),  # fmt: skip
        "features.b.label: 'spend ' also names the feature a",
    ),
    (
        variant(features={"a": {"type": "number"}, "b": {"type": "number", "label": "A"}}),
        "features.b.label: 'A' also names the feature a",
    ),
]


@pytest.mark.parametrize(("spec", "words"), BAD)
def test_a_wrong_schema_is_one_line_naming_the_key(tmp_path, spec, words):
    """Each mistake raises ConfigError at load, one line, naming the key."""
    file = tmp_path / "config.json"
    file.write_text(json.dumps({"schema": spec}))
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    message = str(caught.value)
    assert words in message and "\n" not in message and message.startswith("config.json")


def test_a_non_finite_bound_stops_the_scripts_with_one_line(tmp_path):
    """A "min" of NaN in config.json (Python's json reads it): the script exits 1, one line
    naming the key, before anything runs (before, the bound was switched off)."""
    from tests.conftest import run_script

    text = json.dumps({"schema": variant(features={"a": {"type": "number", "min": 0}})})
    (tmp_path / "config.json").write_text(text.replace('"min": 0', '"min": NaN'))
    done = run_script("ingestion.py", "--config", str(tmp_path / "config.json"), cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(lines) == 1 and "schema.features.a.min must be a finite number" in lines[0]


def test_the_value_column_may_have_its_own_words():
    """ "value": {"column", "label"}: the column is read as before, its words are the
    label's (the pages name it so), and the schema writes itself back the same way; a
    plain name still reads as its name."""
    schema = parse_schema(variant(value={"column": "acv", "label": "annual contract value"}))
    assert schema.value == "acv" and schema.columns[-1] == "acv"
    assert schema.words("acv") == "annual contract value"
    assert parse_schema(schema.to_dict()) == schema
    plain = parse_schema(ISSUE_EXAMPLE)
    assert plain.words("annual_contract_value") == "annual_contract_value"
    assert plain.to_dict()["value"] == "annual_contract_value"
