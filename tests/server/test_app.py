"""HTTP API: every endpoint, bad requests, missing, tampered and reloaded models.

Hostile file paths (serving.read_data_file) are in test_serving.py.
"""

from __future__ import annotations

import json

import pytest

from risk_assessment.core.common import MODEL_SKOPS, SCORE_FILE
from risk_assessment.server import app as api
from risk_assessment.sources import ingestion
from tests.conftest import (  # the default schema's columns
    FEATURES,
    ID_COLUMN,
    deploy_workspace,
    small_rows,
    write_csv,
)

TESTDATA = "testdata/testdata.csv"
SPLIT_ROWS = [[5, 100, 10], [200, 4000, 12]]


def deploy_second_model(config) -> str:
    """Add a data file and deploy the model retrained on it: a new version."""
    write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(30, 200))
    return deploy_workspace(config)


def feature_records(n: int = 5) -> list[dict]:
    """n JSON records with an id and the features."""
    return [dict(zip([ID_COLUMN, *FEATURES], row[:4], strict=True)) for row in small_rows(n, 500)]


def csv_body(n: int = 5) -> str:
    """n rows as CSV text with an id column and the features."""
    lines = [",".join([ID_COLUMN, *FEATURES])]
    lines += [",".join(str(v) for v in row[:4]) for row in small_rows(n, 500)]
    return "\n".join(lines) + "\n"


def assert_predictions(answer, rows: int, ids: bool = True) -> None:
    """A 200 prediction answer with one 0/1 prediction and probability per row."""
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["model_version"] == "v0001" and body["rows"] == rows
    assert len(body["predictions"]) == rows
    for pred in body["predictions"]:
        assert pred["prediction"] in (0, 1) and 0 <= pred["probability"] <= 1
        assert (ID_COLUMN in pred) is ids


# --- happy paths ------------------------------------------------------------------------------


@pytest.mark.reads_deployment
def test_predict_from_a_file_by_post(client):
    """POST /prediction with a filepath scores that file's rows."""
    answer = client.post("/prediction", json={"filepath": TESTDATA})
    assert_predictions(answer, rows=15)
    assert answer.get_json()["predictions"][0][ID_COLUMN] == "c100"


@pytest.mark.reads_deployment
def test_predict_from_a_file_by_get(client):
    """GET /prediction?filename= scores that file's rows."""
    assert_predictions(client.get(f"/prediction?filename={TESTDATA}"), rows=15)


@pytest.mark.reads_deployment
def test_predict_from_records(client):
    """POST /prediction with records scores them in order."""
    answer = client.post("/prediction", json={"records": feature_records(4)})
    assert_predictions(answer, rows=4)
    assert [p[ID_COLUMN] for p in answer.get_json()["predictions"]] == [
        "c500",
        "c501",
        "c502",
        "c503",
    ]


@pytest.mark.reads_deployment
def test_predict_records_without_ids(client):
    """Records without a corporation give predictions without one."""
    records = [{k: v for k, v in r.items() if k != ID_COLUMN} for r in feature_records(3)]
    assert_predictions(client.post("/prediction", json={"records": records}), rows=3, ids=False)


@pytest.mark.reads_deployment
def test_predict_from_a_csv_body(client):
    """POST /prediction with a text/csv body scores its rows."""
    answer = client.post("/prediction", data=csv_body(6), content_type="text/csv")
    assert_predictions(answer, rows=6)


@pytest.mark.reads_deployment
@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"dataframe_split": {"columns": FEATURES, "data": SPLIT_ROWS}}},
        {"json": {"dataframe_records": [{f: 100 for f in FEATURES}] * 2}},
        {"data": csv_body(2), "content_type": "text/csv"},
    ],
    ids=["dataframe_split", "dataframe_records", "csv"],
)
def test_invocations_formats(client, kwargs):
    """POST /invocations accepts MLflow's split, records and CSV inputs."""
    answer = client.post("/invocations", **kwargs)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    predictions = answer.get_json()["predictions"]
    assert len(predictions) == 2 and set(predictions) <= {0, 1}


@pytest.mark.reads_deployment
def test_scoring_matches_the_deployed_score(client, deployed):
    """GET /scoring recomputes the deployed model's F1 on the test data."""
    answer = client.get("/scoring")
    assert answer.status_code == 200
    deployed_f1 = float((deployed["prod_deployment_path"] / SCORE_FILE).read_text())
    assert answer.get_json()["f1"] == deployed_f1
    assert answer.get_json()["model_version"] == "v0001"


@pytest.mark.reads_deployment
def test_summarystats(client):
    """GET /summarystats gives the row count and a summary per feature."""
    body = client.get("/summarystats").get_json()
    assert body["rows"] == 40
    assert set(body["summary"]) == set(FEATURES)
    assert set(body["summary"][FEATURES[0]]) == {"mean", "median", "std"}


@pytest.mark.reads_deployment
def test_diagnostics(client):
    """GET /diagnostics gives missing data, recorded timings and dependencies."""
    answer = client.get("/diagnostics")
    assert answer.status_code == 200
    body = answer.get_json()
    assert set(body) >= {"missing_data", "execution_time", "dependencies"}
    assert body["missing_data"][FEATURES[0]] == 0.0
    assert body["execution_time"]["training_seconds"] > 0


@pytest.mark.reads_deployment
def test_ping_health_and_version(client, deployed):
    """/ping is 200, /health names the version, /version gives its sha256 and F1."""
    assert client.get("/ping").status_code == 200
    health = client.get("/health")
    assert health.status_code == 200 and health.get_json()["model_version"] == "v0001"
    assert health.get_json()["reload_error"] is None
    version = client.get("/version").get_json()
    manifest = json.loads((deployed["prod_deployment_path"] / "current/manifest.json").read_text())
    assert version["model_version"] == "v0001"
    assert version["model_sha256"] == manifest["model_sha256"]
    assert version["f1"] == manifest["f1"]


@pytest.mark.reads_deployment
def test_no_debug_mode(app):
    """The app never runs in debug mode."""
    assert app.debug is False


@pytest.mark.reads_deployment
def test_file_predictions_are_paged(client):
    """offset and limit page a file's predictions; next_offset leads to the rest."""
    first = client.get(f"/prediction?filename={TESTDATA}&limit=10").get_json()
    assert first["rows"] == 10 and first["total"] == 15 and first["next_offset"] == 10
    rest = client.post("/prediction", json={"filepath": TESTDATA, "offset": 10}).get_json()
    assert rest["rows"] == 5 and rest["next_offset"] is None
    assert rest["predictions"][0][ID_COLUMN] == "c110"
    assert client.get(f"/prediction?filename={TESTDATA}&limit=0").status_code == 400


# --- bad requests -----------------------------------------------------------------------------


@pytest.mark.reads_deployment
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": "{not json", "content_type": "application/json"}, "not valid JSON"),
        ({"json": [1, 2]}, "must be a JSON object"),
        ({"json": {"rows": []}}, "filepath"),
        ({"json": {"records": {"a": 1}}}, "records: must be a list"),
        ({"json": {"records": []}}, "records: empty"),
        ({"json": {"filepath": 7}}, "filepath: must be a string"),
        (
            {"json": {"records": [{"lastmonth_activity": 1, "lastyear_activity": 2}]}},
            "number_of_employees",
        ),
        (
            {"json": {"records": [{**feature_records(1)[0], "lastyear_activity": "many"}]}},
            "column lastyear_activity row 1",
        ),
        ({"data": "", "content_type": "text/csv"}, "empty"),
        ({"data": "lastmonth_activity\n1\n", "content_type": "text/csv"}, "missing column"),
    ],
    ids=[
        "malformed-json",
        "not-an-object",
        "no-filepath-or-records",
        "records-not-a-list",
        "records-empty",
        "filepath-not-a-string",
        "missing-column",
        "text-in-number-column",
        "empty-csv",
        "csv-missing-column",
    ],
)
def test_bad_prediction_request_is_400(client, kwargs, message):
    """A malformed request gets 400 and a JSON error saying what is wrong."""
    answer = client.post("/prediction", **kwargs)
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]


@pytest.mark.reads_deployment
def test_bad_invocation_is_400(client):
    """/invocations without a known input format gets 400 in MLflow's error shape."""
    answer = client.post("/invocations", json={"rows": [[1, 2, 3]]})
    assert answer.status_code == 400 and "dataframe_split" in answer.get_json()["message"]
    assert answer.get_json()["error_code"] == "BAD_REQUEST"


@pytest.mark.reads_deployment
def test_unknown_route_is_404_json(client):
    """An unknown route answers 404 JSON."""
    answer = client.get("/nowhere")
    assert answer.status_code == 404 and "error" in answer.get_json()


@pytest.mark.reads_deployment
def test_wrong_method_is_405_json(client):
    """GET on a POST-only route answers 405 JSON."""
    answer = client.get("/invocations")
    assert answer.status_code == 405 and "error" in answer.get_json()
    assert answer.headers["Allow"] == "POST" or "POST" in answer.headers["Allow"]


@pytest.mark.reads_deployment
@pytest.mark.parametrize("route", ["/prediction", "/invocations"])
def test_too_large_body_is_413_json(deployed, route):
    """A body larger than api.max_request_bytes answers 413 JSON."""
    small = {**deployed, "api": {**deployed["api"], "max_request_bytes": 1000}}
    client = api.create_app(small).test_client()
    answer = client.post(route, data=csv_body(200), content_type="text/csv")
    assert answer.status_code == 413 and "error" in answer.get_json()


@pytest.mark.parametrize(
    "request_args",
    [
        ("post", "/prediction", {"json": {"filepath": "testdata/bad.csv"}}, 400),
        ("get", "/prediction?filename=testdata/short.csv", {}, 400),
        (
            "get",
            "/summarystats",
            {},
            503,
        ),  # the server's own data is missing: not the caller's fault
    ],
    ids=["bad-cell", "missing-column", "no-finaldata"],
)
def test_data_errors_do_not_reveal_server_paths(client, deployed, workspace, request_args):
    """Data error answers name files, never the server's absolute folders."""
    write_csv(workspace / "testdata" / "bad.csv", [("c1", "x", 1, 1, 0)])
    write_csv(workspace / "testdata" / "short.csv", [("c1", 1)], header="corporation,foo")
    (deployed["output_folder_path"] / "finaldata.csv").unlink()
    method, url, kwargs, status = request_args
    answer = getattr(client, method)(url, **kwargs)
    assert answer.status_code == status and "error" in answer.get_json()
    assert str(workspace) not in answer.get_data(as_text=True)


# --- model states -----------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/health", "/prediction", "/ping", "/version"])
def test_no_deployed_model_is_503(config, route):
    """Without a deployment the model routes answer 503 JSON with an error."""
    client = api.create_app(config).test_client()
    answer = client.get(route, query_string={"filename": TESTDATA})
    assert answer.status_code == 503
    assert "run deployment.py" in answer.get_json()["error"]


def test_model_errors_do_not_reveal_server_paths(config, workspace):
    """A 503 for a missing model names no absolute server folder."""
    client = api.create_app(config).test_client()
    for route in ("/health", f"/prediction?filename={TESTDATA}"):
        assert str(workspace) not in client.get(route).get_data(as_text=True)


def test_tampered_model_is_refused(deployed):
    """A deployed pickle changed after deployment is refused: /health 503."""
    path = deployed["prod_deployment_path"] / "versions" / "v0001" / MODEL_SKOPS
    path.write_bytes(path.read_bytes()[:-8] + b"tampered")
    client = api.create_app(deployed).test_client()
    health = client.get("/health")
    assert health.status_code == 503
    assert "refusing" in health.get_json()["error"]
    assert client.post("/prediction", json={"filepath": TESTDATA}).status_code == 503


def test_hot_reload_of_a_new_deployment(app, client, deployed):
    """Deploying v0002 under a running app switches /version without a new app."""
    assert client.get("/version").get_json()["model_version"] == "v0001"
    assert deploy_second_model(deployed) == "v0002"
    assert client.get("/version").get_json()["model_version"] == "v0002"
    answer = client.post("/prediction", json={"filepath": TESTDATA})
    assert answer.get_json()["model_version"] == "v0002"


def test_a_new_version_loads_without_stalling_other_requests(app, client, deployed):
    """While one thread loads a new version, the others answer with the last one."""
    models = app.extensions["risk_assessment"].models
    assert client.get("/version").get_json()["model_version"] == "v0001"
    deploy_second_model(deployed)
    with models.lock:  # another thread is loading v0002
        assert client.get("/version").get_json()["model_version"] == "v0001"
    assert client.get("/version").get_json()["model_version"] == "v0002"


@pytest.mark.reads_deployment
def test_the_numpy_fast_path_scores_like_the_model(app, client):
    """The served twin (no feature names) gives the model's own probabilities."""
    import numpy as np
    import pandas as pd

    client.get("/health")
    model, twin, _ = app.extensions["risk_assessment"].models.current()
    rows = np.array([[5.0, 100.0, 10.0], [200.0, 4000.0, 12.0]])
    frame = pd.DataFrame(rows, columns=FEATURES)
    assert twin is not None and not hasattr(twin, "feature_names_in_")
    assert np.array_equal(twin.predict_proba(rows), model.predict_proba(frame))


def test_corrupt_new_deployment_keeps_the_last_good_model(client, deployed):
    """A v0002 that fails verification: v0001 keeps serving, /health shows why."""
    assert client.get("/health").get_json()["model_version"] == "v0001"
    deploy_second_model(deployed)
    path = deployed["prod_deployment_path"] / "versions" / "v0002" / MODEL_SKOPS
    path.write_bytes(b"not a model")
    answer = client.post("/prediction", json={"filepath": TESTDATA})
    assert answer.status_code == 200 and answer.get_json()["model_version"] == "v0001"
    health = client.get("/health").get_json()
    assert health["model_version"] == "v0001"
    assert "refusing" in health["reload_error"]


def test_cached_data_follows_a_new_ingestion(client, deployed):
    """/summarystats and /risk reread finaldata.csv when ingestion has changed it."""
    before = client.get("/summarystats").get_json()["rows"]
    listed = client.get("/risk").get_json()["total"]
    write_csv(deployed["input_folder_path"] / "dataset9.csv", small_rows(5, 900))
    ingestion.run_ingestion(deployed)
    assert client.get("/summarystats").get_json()["rows"] == before + 5
    assert client.get("/risk").get_json()["total"] == listed + 3  # 2 of the 5 have exited


@pytest.mark.reads_deployment
def test_state_lives_under_one_named_extension(app):
    """The shared state is one ApiState under "risk_assessment", read by serving.state()."""
    from risk_assessment.server import serving

    shared = app.extensions["risk_assessment"]
    assert isinstance(shared, serving.ApiState) and "risk" not in app.extensions
    with app.app_context():
        assert serving.state() is shared


@pytest.mark.reads_deployment
def test_every_view_is_a_module_level_function(app):
    """No view is a closure: each endpoint's function is defined at the top of its module."""
    views = {e: f for e, f in app.view_functions.items() if e != "static"}
    assert len(views) >= 17
    for endpoint, view in views.items():
        assert view.__qualname__ == view.__name__, endpoint
