"""MLflow's scoring protocol on /invocations, and the 4xx answers of hostile requests.

The payloads are the ones MLflow 3 documents and what its ScoringServerClient sends
(dump_input_data: a DataFrame as dataframe_split with index, a list as inputs, params
alongside). tests/test_server.py replays them against the real production server.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import FEATURES, ID_COLUMN  # the default schema's columns

ROWS = [[5, 100, 10], [200, 4000, 12], [7, 90, 11]]
RECORDS = [dict(zip(FEATURES, r, strict=True)) for r in ROWS]
COLUMNS = {f: [r[i] for r in ROWS] for i, f in enumerate(FEATURES)}

# What MLflow's documentation and its client send, each for the same three rows.
MLFLOW_PAYLOADS = {
    "dataframe_split": {"dataframe_split": {"columns": FEATURES, "data": ROWS}},
    "dataframe_split_client": {  # DataFrame.to_dict(orient="split"), as the client sends it
        "dataframe_split": {"index": [0, 1, 2], "columns": FEATURES, "data": ROWS}
    },
    "dataframe_records": {"dataframe_records": RECORDS},
    "instances_records": {"instances": RECORDS},
    "instances_columns": {"instances": COLUMNS},
    "inputs_columns": {"inputs": COLUMNS},
    "inputs_records": {"inputs": RECORDS},  # client.invoke(list_of_records)
    "inputs_rows": {"inputs": ROWS},  # client.invoke(numpy array)
    "with_params": {"dataframe_records": RECORDS, "params": {"threshold": 0.5}},
    "extra_columns": {
        "dataframe_split": {"columns": [ID_COLUMN, *FEATURES], "data": [["a", *r] for r in ROWS]}
    },
}
CSV = "\n".join([",".join(FEATURES), *(",".join(map(str, r)) for r in ROWS)]) + "\n"

# Every test here only reads: one deployment and one app serve the whole module.
pytestmark = pytest.mark.reads_deployment


def expected(client) -> list[int]:
    """The predictions of the three rows through the project's own /prediction."""
    answer = client.post("/prediction", json={"records": RECORDS}).get_json()
    return [p["prediction"] for p in answer["predictions"]]


@pytest.mark.parametrize("name", list(MLFLOW_PAYLOADS))
def test_every_mlflow_format_predicts_the_same(client, name):
    """Each documented format gives {"predictions": [...]} for the same rows."""
    answer = client.post(
        "/invocations", data=json.dumps(MLFLOW_PAYLOADS[name]), content_type="application/json"
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"predictions": expected(client)}


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8"])
def test_csv_input(client, content_type):
    """text/csv (with or without charset=utf-8) is scored like JSON."""
    answer = client.post("/invocations", data=CSV, content_type=content_type)
    assert answer.status_code == 200 and answer.get_json() == {"predictions": expected(client)}


def assert_error(answer, status: int, code: str, words: str = "") -> None:
    """A JSON error in MLflow's shape (error_code, message) plus error."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["error_code"] == code and body["message"] == body["error"]
    assert words in body["message"]


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("application/json; charset=iso-8859-1", "charset"),
        ("application/json; charset=utf-16", "charset"),
        ("text/csv; charset=latin-1", "charset"),
        ("text/plain", "content type"),
        ("application/x-www-form-urlencoded", "content type"),
        ("application/json; format=pandas-split", "format"),
        ("", "content type"),
    ],
)
@pytest.mark.parametrize("route", ["/invocations", "/prediction"])
def test_unsupported_content_type_or_charset_is_415(client, route, content_type, words):
    """Other media types, charsets or parameters are 415, as in MLflow's server."""
    body = json.dumps(MLFLOW_PAYLOADS["dataframe_records"])
    answer = client.post(route, data=body, headers={"Content-Type": content_type})
    assert_error(answer, 415, "BAD_REQUEST", words)


BAD_BODIES = {
    "two-format-keys": (
        {"dataframe_records": RECORDS, "instances": RECORDS},
        "exactly one",
    ),
    "no-format-key": ({"data": ROWS}, "exactly one"),
    "a-list": ([RECORDS], "JSON object"),
    "empty-split": ({"dataframe_split": {"columns": FEATURES, "data": []}}, "empty"),
    "empty-records": ({"dataframe_records": []}, "empty"),
    "empty-inputs": ({"inputs": []}, "empty"),
    "empty-columns": ({"inputs": {f: [] for f in FEATURES}}, "empty"),
    "duplicate-column": (
        {"dataframe_split": {"columns": [FEATURES[0], *FEATURES], "data": [[1, 1, 2, 3]]}},
        "duplicate column(s) lastmonth_activity",
    ),
    "missing-column": ({"dataframe_records": [{FEATURES[0]: 1}]}, "record 1: missing column"),
    "ragged-rows": ({"inputs": [[1, 2, 3], [1, 2]]}, "every row"),
    "ragged-columns": ({"inputs": {**COLUMNS, FEATURES[0]: [1]}}, "same length"),
    "text-value": ({"dataframe_records": [{**RECORDS[0], FEATURES[1]: "many"}]}, FEATURES[1]),
    "null-value": ({"inputs": [[1, None, 3]]}, FEATURES[1]),
    "bool-value": ({"inputs": [[1, True, 3]]}, FEATURES[1]),
    "huge-int": ({"inputs": [[10**400, 2, 3]]}, f"column {FEATURES[0]} row 1"),
    "beyond-2**53": ({"inputs": [[1, 2, 2**53 + 2]]}, f"column {FEATURES[2]} row 1"),
    "huge-float": ({"inputs": [[1, 1e308, 3]]}, "2**53"),
    "params-not-object": ({"dataframe_records": RECORDS, "params": [1]}, "params"),
    "numeric-string": ({"inputs": [[1, "5", 3]]}, f"column {FEATURES[1]} row 1"),
    "id-not-a-string": ({"dataframe_records": [{**RECORDS[0], ID_COLUMN: 7}]}, ID_COLUMN),
    "index-not-a-list": (
        {"dataframe_split": {"columns": FEATURES, "data": ROWS, "index": {}}},
        "index",
    ),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_mlflow_bodies_are_400(client, name):
    """Two format keys, empty input, duplicate columns, bad numbers: 400 naming the field."""
    body, words = BAD_BODIES[name]
    answer = client.post("/invocations", data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 400 and words in answer.get_json()["message"], answer.get_json()
    assert answer.get_json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 5000 + "]" * 5000,
        '{"inputs": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"inputs": [[NaN, 1, 2]]}',
        '{"inputs": [[Infinity, 1, 2]]}',
        '{"inputs": [[1' + "0" * 5000 + ", 1, 2]]}",
        "",
        "\xff\xfe",
    ],
    ids=["deep-list", "deep-inside", "nan", "infinity", "5000-digits", "empty", "not-utf8"],
)
def test_hostile_json_is_400(client, raw):
    """Deep nesting, NaN, endless digits, empty or binary bodies: 400 JSON, never 500."""
    data = raw.encode("latin-1")
    answer = client.post("/invocations", data=data, content_type="application/json")
    assert_error(answer, 400, "BAD_REQUEST")


def test_duplicate_csv_column_is_400(client):
    """A CSV header naming a column twice is refused."""
    csv = f"{FEATURES[0]},{CSV}"
    answer = client.post(
        "/invocations", data=csv.replace("\n5,", "\n1,5,", 1), content_type="text/csv"
    )
    assert_error(answer, 400, "INVALID_PARAMETER_VALUE", "duplicate")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (CSV.replace(",", ";").replace("\n5;", "\n5,0;", 1).encode(), "fields separated by ';'"),
        (CSV.replace("\n", "\nx\xe9,", 1).encode("latin-1"), "not UTF-8 text (line 2: byte 0xe9"),
        (b"\x00\x01\x02,\x03", "binary content"),
    ],
)
def test_a_csv_body_gets_an_input_files_checks(client, body, words):
    """A CSV body is checked as an input file is: a semicolon export (with decimal commas),
    Latin-1 text, binary content: 400 with ingestion's one line."""
    answer = client.post("/invocations", data=body, content_type="text/csv")
    assert answer.status_code == 400 and words in answer.get_json()["message"], answer.get_json()


def test_rows_beyond_the_cap_are_413(client, deployed):
    """More rows than api.max_rows in one request: 413, naming the setting."""
    rows = ROWS * (deployed["api"]["max_rows"] // 3 + 1)
    answer = client.post("/invocations", json={"inputs": rows})
    assert_error(answer, 413, "REQUEST_LIMIT_EXCEEDED", "api.max_rows")


def test_summary_answers_as_summarystats(client):
    """/summary is the original project's other spelling of /summarystats."""
    first, second = client.get("/summary"), client.get("/summarystats")
    assert first.status_code == 200 and first.get_json() == second.get_json()


def test_unknown_route_has_the_mlflow_error_shape(client):
    """404 for an unknown route: ENDPOINT_NOT_FOUND."""
    assert_error(client.get("/nowhere"), 404, "ENDPOINT_NOT_FOUND")


@pytest.mark.parametrize("path", ["/risk/nosuchclient", "/client/nosuchclient", "/report.pdf"])
def test_missing_resource_on_a_known_route_is_resource_does_not_exist(client, path):
    """404 for a missing client or file on a known route: RESOURCE_DOES_NOT_EXIST."""
    assert_error(client.get(path), 404, "RESOURCE_DOES_NOT_EXIST")


def test_prediction_body_with_unknown_keys_is_400(client):
    """/prediction takes records, or filepath with offset and limit: nothing else."""
    answer = client.post("/prediction", json={"records": RECORDS, "limit": 2})
    assert_error(answer, 400, "BAD_REQUEST", "unexpected key(s) limit")
    answer = client.post("/prediction", json={"filepath": "testdata/testdata.csv", "x": 1})
    assert_error(answer, 400, "BAD_REQUEST", "unexpected key(s) x")


@pytest.mark.parametrize("value", [" 5", "+5", "\u0665", "5.0", "-1"])
def test_integer_query_parameters_are_plain_digits(client, value):
    """top and page take ASCII digits only."""
    assert_error(client.get("/risk", query_string={"top": value}), 400, "BAD_REQUEST", "top")
