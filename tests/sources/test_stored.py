"""sources/stored.py: the columns the store binds, and the same values as the export takes
them (numbers as arrays), written byte for byte as the store would write them."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from risk_assessment.core.columns import parse_schema
from risk_assessment.core.common import FINALDATA
from risk_assessment.core.settings import load_config
from risk_assessment.sources import ingestion
from risk_assessment.sources.stored import stored_columns
from risk_assessment.store import records as store

SCHEMA = {
    "id": "account",
    "target": {"column": "churned", "positive": "yes", "negative": "no"},
    "value": "acv",
    "features": {
        "seats": {"type": "integer"},
        "spend": {"type": "number", "required": False},
        "visits": {"type": "integer", "required": False},
        "plan": {"type": "category", "required": False},
        "renews": {"type": "boolean"},
    },
}
SPEND = ["-0.0", "1e-05", "4.5e15", "0.30000000000000004", "", "2.5", "123456789.125", "-7"]
VISITS = ["3", "", "9007199254740992", "0"]


def awkward_file(rows: int) -> str:
    """A CSV of the schema above: signed zeros, tiny and huge floats, missing optional
    numbers and levels, integers beyond 2^53, unlabelled rows."""
    lines = ["account,seats,spend,visits,plan,renews,churned,acv"]
    for i in range(rows):
        label = ["yes", "no", ""][i % 3]
        plan = ["pro", "", "basic"][i % 3]
        account = f'"a{i}, ""x"""' if i == 4 else f"a{i}"  # quoted: the csv module writes
        lines.append(
            f"{account},{i * 7},{SPEND[i % len(SPEND)]},{VISITS[i % len(VISITS)]},{plan},"
            f"{['true', 'no'][i % 2]},{label},{1000.5 * i}"
        )
    return "\n".join(lines) + "\n"


def test_the_export_columns_hold_the_bound_values():
    """Each export column is the bound list itself or an array of the same numbers (NaN
    where None was bound)."""
    schema = parse_schema(SCHEMA)
    frame = pd.DataFrame(
        {
            "account": ["a", "b"],
            "seats": [1, 2],
            "spend": [0.5, np.nan],
            "visits": [3.0, np.nan],
            "plan": ["pro", None],
            "renews": [1, 0],
            "churned": pd.array([1, None], "Int64"),
            "acv": [10.0, 20.0],
        }  # fmt: skip
    )
    bound, export = stored_columns(frame, schema)
    assert len(bound) == len(export) == 8
    for values, column in zip(bound, export, strict=True):
        if isinstance(column, list):
            assert column is values
        else:
            expected = [math.nan if v is None else v for v in values]
            np.testing.assert_array_equal(column, np.array(expected, dtype=column.dtype))
    assert isinstance(export[1], np.ndarray) and export[1].dtype == np.int64  # seats
    assert isinstance(export[3], list)  # visits: an integer with a missing value


def test_an_ingested_file_of_awkward_numbers_exports_as_the_store_would(tmp_path):
    """finaldata.csv written from the ingestion's values equals the export rebuilt from
    the store, byte for byte, on numbers that format in surprising ways, and when a
    quoted id leaves the rows to the csv module (missing numbers empty, not 'nan')."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "accounts.csv").write_text(awkward_file(60))
    config = {"input_folder_path": "in", "output_folder_path": "out", "test_data_path": "t",
              "output_model_path": "m", "prod_deployment_path": "p", "schema": SCHEMA,
              "ingestion": {"settle_seconds": 0}}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    config = load_config(tmp_path / "config.json")
    out = config["output_folder_path"]
    ingestion.save_ingestion(out, ingestion.ingest_configured(config))
    fresh = (out / FINALDATA).read_bytes()
    (out / FINALDATA).unlink()
    store.refresh_exports(out, config["schema"])
    assert fresh == (out / FINALDATA).read_bytes()
    assert b",-0.0," in fresh and b",4500000000000000.0," in fresh and b",1e-05," in fresh
    assert b",9007199254740992," in fresh and fresh.count(b"\n") == 1 + 40
    assert b"nan" not in fresh and b'"a4, ""x""",28,,3,,1,0,4002.0' in fresh
