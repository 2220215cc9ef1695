"""A user's own columns (config.json's `schema`): the issue's example schema through
ingestion, the store, training, scoring and the API, in tmp_path; each bad input of the
issue's list; a feature added to the schema of an existing installation."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from risk_assessment.core.common import DataError, ModelError
from risk_assessment.core.settings import load_config
from risk_assessment.deployment import versions as deployment
from risk_assessment.modelling import scoring, training
from risk_assessment.schema import dataset
from risk_assessment.sources import ingestion
from risk_assessment.store import records as store
from tests.conftest import (
    configure,
    deploy_workspace,
    run_script,
    small_rows,
    write_config,
    write_csv,
)

SAAS = {
    "id": "account",
    "target": {"column": "churned", "positive": "yes", "negative": "no"},
    "value": "annual_contract_value",
    "features": {
        "seats": {"type": "integer", "min": 0, "label": "licensed seats"},
        "monthly_spend": {"type": "number", "min": 0, "required": False},
        "nps": {"type": "number", "min": -100, "max": 100, "label": "satisfaction (NPS)"},
        "industry": {"type": "category"},
        "region": {"type": "category", "levels": ["north", "south", "east", "west"]},
        "auto_renew": {"type": "boolean"},
    },
    "aliases": {"client_id": "account"},
}
# the file's header: an alias for the id, other case and spaces, and a column not in the schema
HEADER = "client_id, Seats ,monthly_spend,nps,industry,region,auto_renew,churned,"
HEADER += "annual_contract_value,notes"


def saas_rows(n: int, start: int = 0) -> list[tuple]:
    """n learnable rows: unhappy (negative NPS), small accounts churn."""
    rng = np.random.default_rng(start)
    rows = []
    for i in range(start, start + n):
        churn = i % 3 == 0
        nps = int(rng.integers(-90, -10)) if churn else int(rng.integers(10, 90))
        spend = "" if i % 7 == 0 else f"{rng.uniform(10, 900):.2f}"
        industry = ["retail", "tech", "bank"][i % 3 if i % 2 else (i // 2) % 3]
        region = ["north", "South", "east", "west"][i % 4]  # levels match in any case
        renew = ["yes", "No", "TRUE", "0"][i % 4]
        label = "yes" if churn else "no"
        rows.append(
            (f"a{i:04d}", 5 + i % 40, spend, nps, industry, region, renew, label, 1000 + i, "x")
        )
    return rows


@pytest.fixture
def saas(tmp_path: Path) -> dict:
    """A workspace whose config declares the issue's example schema, with two input files."""
    write_csv(tmp_path / "in" / "one.csv", saas_rows(60, 0), HEADER)
    write_csv(tmp_path / "in" / "two.csv", saas_rows(60, 60), HEADER)
    write_csv(tmp_path / "testdata" / "testdata.csv", saas_rows(45, 500), HEADER)
    return write_config(tmp_path, schema=SAAS)


def test_a_richer_schema_goes_through_ingestion_training_scoring_and_deployment(saas):
    """Every row of the example schema is stored typed under the schema's fingerprint; the
    model is trained, scored and deployed with the schema recorded."""
    result = ingestion.run_ingestion(saas)
    assert result.metrics["rows_kept"] == 120 and not result.rejected
    entry = result.ingested[0].entry
    assert entry["ignored_columns"] == ["notes"] and entry["rows_rejected"] == 0
    with closing(sqlite3.connect(store.store_path(saas["output_folder_path"]))) as db:
        row = db.execute(
            'SELECT corporation, "v:seats", "v:monthly_spend", "v:industry", "v:region", '
            '"v:auto_renew", exited, "v:annual_contract_value", schema FROM observations '
            "ORDER BY seq LIMIT 2"
        ).fetchall()
    schema = saas["schema"]
    assert row[0] == ("a0000", 5, None, "retail", "north", 1, 1, 1000.0, schema.fingerprint())
    assert row[1][4] == "south" and row[1][5] == 0  # the level as declared; "No" is 0
    meta = training.run_training(saas)
    assert meta["schema"] == schema.to_dict() and meta["schema_fingerprint"] == schema.fingerprint()
    inputs = {c["name"]: (c["type"], c["required"]) for c in meta["signature"]["inputs"]}
    assert inputs == {
        "seats": ("long", True),
        "monthly_spend": ("double", False),
        "nps": ("double", True),
        "industry": ("string", True),
        "region": ("string", True),
        "auto_renew": ("boolean", True),
    }
    scores = scoring.run_scoring(saas)
    assert scores["rows"] == 45 and scores["f1"] > 0.8
    assert deployment.deploy(saas) == "v0001"


def test_the_api_takes_the_schemas_columns_and_labels(saas):
    """/prediction and /invocations take the user's columns (missing optional values,
    an unseen industry); /risk/<id> shows them with their labels; OpenAPI follows."""
    from risk_assessment.server.app import create_app

    deploy_workspace(saas)
    client = create_app(saas).test_client()
    record = {
        "account": "new1",
        "seats": 12,
        "monthly_spend": None,
        "nps": -50.5,
        "industry": "mining",  # never seen in training: scored, not refused
        "region": "west",
        "auto_renew": False,
    }
    answer = client.post("/prediction", json={"records": [record]})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["predictions"][0]["account"] == "new1"
    split = {"columns": list(record)[1:], "data": [list(record.values())[1:]]}
    answer = client.post("/invocations", json={"dataframe_split": split})
    assert answer.status_code == 200 and answer.get_json()["predictions"] in ([0], [1])
    listed = client.get("/risk?top=1").get_json()["clients"][0]
    one = client.get(f"/risk/{listed['account']}").get_json()
    assert set(one["contributions"]) == set(saas["schema"].feature_names)
    assert all(r["label"] == saas["schema"].words(r["feature"]) for r in one["reasons"])
    for page in ("/", f"/client/{listed['account']}", "/risk?format=csv"):
        assert client.get(page).status_code == 200, page
    assert b"licensed seats" in client.get(f"/client/{listed['account']}").data
    assert client.get("/risk?format=csv").data.startswith(b"account,rank,")
    assert client.get("/summarystats").get_json()["summary"].keys() == {
        "seats", "monthly_spend", "nps", "auto_renew"
    }  # fmt: skip
    spec = client.get("/openapi.json").get_json()["components"]["schemas"]["Record"]
    assert spec["properties"]["region"]["enum"] == ["north", "south", "east", "west"]
    assert spec["properties"]["nps"]["minimum"] == -100 and "monthly_spend" not in spec["required"]


def test_json_names_are_matched_as_a_files_header_is(saas):
    """JSON requests name columns as a file's header may (other case, spaces, an alias):
    every JSON format answers as with the schema's names, as a CSV body does; two names of
    one column are a 400 naming it; a missing column is named with those found."""
    from risk_assessment.server.app import create_app

    deploy_workspace(saas)
    client = create_app(saas).test_client()
    exact = {"seats": 12, "monthly_spend": 40.5, "nps": -50, "industry": "tech",
             "region": "west", "auto_renew": True}  # fmt: skip
    loose = dict(zip([" Seats", "MONTHLY_SPEND", "Nps ", "industry", "Region", "Auto_Renew"],
                     exact.values(), strict=True))  # fmt: skip
    want = client.post("/invocations", json={"dataframe_records": [exact]}).get_json()
    bodies = [
        {"dataframe_records": [{"client_id": "a1", **loose}]},
        {"dataframe_split": {"columns": list(loose), "data": [list(loose.values())]}},
        {"instances": [loose]},
        {"inputs": {k: [v] for k, v in loose.items()}},
    ]
    for body in bodies:
        answer = client.post("/invocations", json=body)
        assert answer.status_code == 200 and answer.get_json() == want, (body, answer.get_json())
    answer = client.post("/prediction", json={"records": [{"client_id": "a1", **loose}]})
    assert answer.status_code == 200 and answer.get_json()["predictions"][0]["account"] == "a1"
    twice = client.post("/invocations", json={"dataframe_records": [{**exact, "Seats": 3}]})
    assert twice.status_code == 400 and "duplicated column(s) seats" in twice.get_json()["message"]
    short = client.post("/invocations", json={"dataframe_records": [{"seats": 3}]})
    assert (
        "missing column(s) nps, industry, region, auto_renew (found: seats)"
        in (short.get_json()["message"])
    )


@pytest.mark.parametrize(
    ("column", "cell", "reason"),
    [
        ("seats", "12.5", "non-integer seats"),
        ("seats", "-1", "negative seats"),
        ("nps", "101", "nps above max 100"),
        ("nps", "-100.5", "nps below min -100"),
        ("region", "mars", "region not one of its levels"),
        ("auto_renew", "maybe", "auto_renew not true/false, yes/no, y/n or 1/0"),
        ("churned", "perhaps", "churned not yes or no"),
        ("industry", "", "missing industry"),
    ],
)
def test_a_bad_cell_drops_its_row_with_one_reason_and_the_api_refuses_it(
    saas, column, cell, reason
):
    """Wrong type, outside min/max, a category outside its levels, an unknown target label,
    an empty required cell: the row is dropped with a reason naming column and value, the
    good rows are kept, and the API refuses the same value with a 400 naming the field."""
    from risk_assessment.server.app import create_app

    deploy_workspace(saas)
    names = [c.strip().lower() for c in HEADER.split(",")]
    bad = list(saas_rows(1, 900)[0])
    bad[names.index(column)] = cell
    write_csv(saas["input_folder_path"] / "three.csv", [tuple(bad), *saas_rows(5, 901)], HEADER)
    before = store.all_observations(saas["output_folder_path"], saas["schema"])
    result = ingestion.run_ingestion(saas)
    entry = result.ingested[0].entry
    assert entry["reasons"] == {reason: 1} and entry["rows_kept"] == 5
    assert entry["examples"] == {reason: cell}
    after = store.all_observations(saas["output_folder_path"], saas["schema"])
    assert after[: len(before)] == before and len(after) == len(before) + 5
    if column == "churned":
        return  # the API scores features only
    record = dict(zip(names[:7], bad[:7], strict=True))
    answer = create_app(saas).test_client().post(
        "/invocations", data=",".join(record) + "\n" + ",".join(map(str, record.values())),
        content_type="text/csv",
    )  # fmt: skip
    assert answer.status_code == 400 and column in answer.get_json()["message"]
    assert reason in answer.get_json()["message"]


@pytest.mark.parametrize("column", ["client_id", "seats", "churned"])
def test_a_file_without_the_id_or_a_required_column_is_rejected_whole(saas, column):
    """The id column, a required feature or the target absent: the file is rejected with
    one line naming the column; the optional monthly_spend may be absent."""
    names = [c.strip() for c in HEADER.split(",")]
    keep = [i for i, n in enumerate(names) if n.lower() not in (column, "monthly_spend")]
    rows = [tuple(r[i] for i in keep) for r in saas_rows(10)]
    write_csv(saas["input_folder_path"] / "one.csv", rows, ",".join(names[i] for i in keep))
    (saas["input_folder_path"] / "two.csv").unlink()
    result = ingestion.run_ingestion(saas)
    error = result.rejected[0].entry["error"]
    wanted = {"client_id": "account", "seats": "seats", "churned": "churned"}[column]
    assert error.startswith(f"missing column(s) {wanted} (found:")


def test_a_model_of_other_columns_is_refused_by_server_and_pipeline(saas, tmp_path):
    """The config's schema changed after deployment: the served model is refused (503, one
    line); the pipeline's loader counts it as no deployment (the batch trains its
    successor: tests/pipeline/test_judging.py) and the scripts' loader raises ModelError
    naming the difference."""
    from risk_assessment.deployment.versions import load_deployed
    from risk_assessment.pipeline.judging import load_live
    from risk_assessment.server.app import create_app

    deploy_workspace(saas)
    spec = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    spec["schema"]["features"]["tenure"] = {"type": "integer", "required": False}
    (tmp_path / "config.json").write_text(json.dumps(spec), encoding="utf-8")
    changed = load_config(tmp_path / "config.json")
    answer = create_app(changed).test_client().get("/health")
    assert answer.status_code == 503 and "tenure" in answer.get_json()["message"]
    assert load_live(changed) == (None, None)
    prod, key = changed["prod_deployment_path"], changed["deployment"]["signing_key_path"]
    with pytest.raises(ModelError, match="trained on other columns.*tenure"):
        load_deployed(prod, key, changed["schema"])


def test_diagnostics_and_reporting_refuse_a_model_of_other_columns(saas, tmp_path):
    """A level added to a category after deployment: diagnostics.py and reporting.py
    refuse the deployed model in one line, as scoring and the server do, and exit 1."""
    deploy_workspace(saas)
    spec = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    spec["schema"]["features"]["region"]["levels"].append("central")
    (tmp_path / "config.json").write_text(json.dumps(spec), encoding="utf-8")
    for script in ("diagnostics.py", "reporting.py"):
        done = run_script(script, "--config", str(tmp_path / "config.json"), cwd=tmp_path)
        assert done.returncode == 1, (script, done.stderr)
        assert "trained on other columns" in done.stderr and "region" in done.stderr, script
        assert "Traceback" not in done.stderr, script


def test_a_bound_tightened_after_ingestion_leaves_out_the_rows_beyond_it(saas, tmp_path):
    """nps's max lowered to 50 after ingestion and deployment (bounds may change without
    retraining): training, scoring, diagnostics and reporting run, each leaving out the
    rows beyond the new bound with one warning; the new model never saw them."""
    deploy_workspace(saas)
    spec = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    spec["schema"]["features"]["nps"]["max"] = 50
    (tmp_path / "config.json").write_text(json.dumps(spec), encoding="utf-8")
    tightened = load_config(tmp_path / "config.json")
    folder = tightened["output_folder_path"]
    assert store.export_sha256(folder, tightened["schema"]) is None  # rows of an older schema
    data = dataset.load_dataset(folder / "finaldata.csv", saas["schema"])
    within = int((data["nps"] <= 50).sum())
    assert 0 < within < len(data)
    for script in ("training.py", "scoring.py", "diagnostics.py", "reporting.py"):
        done = run_script(script, "--config", str(tmp_path / "config.json"), cwd=tmp_path)
        assert done.returncode == 0, (script, done.stderr)
        assert "bad row(s) left out" in done.stderr and "nps above max 50" in done.stderr, script
    meta = json.loads((tightened["output_model_path"] / "trainedmodel.json").read_text())
    assert meta["rows"] == within


def test_a_schema_edit_that_keeps_the_columns_keeps_the_rows(saas, tmp_path):
    """A feature renamed in another case (headers match in any case; so do SQLite's
    columns) and the value column listed as a feature too: the stored rows still hold
    every column, so they are read and trained on, none left out."""
    ingestion.run_ingestion(saas)
    meta = training.run_training(saas)
    spec = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    spec["schema"]["features"] = {
        ("Seats" if k == "seats" else k): v for k, v in spec["schema"]["features"].items()
    }
    spec["schema"]["features"]["annual_contract_value"] = {"type": "number", "min": 0}
    (tmp_path / "config.json").write_text(json.dumps(spec), encoding="utf-8")
    edited = load_config(tmp_path / "config.json")
    assert store.unusable_rows(edited["output_folder_path"], edited["schema"]) == (0, [])
    assert training.run_training(edited)["rows"] == meta["rows"]


def test_a_labelled_value_column_stores_and_reads_as_a_named_one(saas, tmp_path):
    """ "value": {column, label}: rows are stored as with a plain name (the store records
    the schema in that form), the pages' words are the label's, and listing the value
    column as a feature later still reads every stored row."""
    spec = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    spec["schema"]["value"] = {"column": "annual_contract_value", "label": "contract value"}
    (tmp_path / "config.json").write_text(json.dumps(spec), encoding="utf-8")
    config = load_config(tmp_path / "config.json")
    assert config["schema"].words("annual_contract_value") == "contract value"
    ingestion.run_ingestion(config)
    rows = training.run_training(config)["rows"]
    spec["schema"]["features"]["annual_contract_value"] = {"type": "number", "min": 0}
    (tmp_path / "config.json").write_text(json.dumps(spec), encoding="utf-8")
    edited = load_config(tmp_path / "config.json")
    assert store.unusable_rows(edited["output_folder_path"], edited["schema"]) == (0, [])
    assert training.run_training(edited)["rows"] == rows


def test_a_schema_no_stored_row_satisfies_is_one_line_and_can_be_undone(saas, tmp_path):
    """A required feature no stored row has: training stops with one line naming it and
    what to do; with the schema changed back, diagnostics and training work again (the
    export written meanwhile for the other schema is rewritten)."""
    deploy_workspace(saas)
    original = (tmp_path / "config.json").read_text(encoding="utf-8")
    spec = json.loads(original)
    spec["schema"]["features"]["tenure"] = {"type": "integer"}
    (tmp_path / "config.json").write_text(json.dumps(spec), encoding="utf-8")
    done = run_script("training.py", "--config", str(tmp_path / "config.json"), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no stored row can be read under config.json's schema" in done.stderr
    assert "lack tenure" in done.stderr
    (tmp_path / "config.json").write_text(original, encoding="utf-8")
    for script in ("diagnostics.py", "training.py"):
        done = run_script(script, "--config", str(tmp_path / "config.json"), cwd=tmp_path)
        assert done.returncode == 0, (script, done.stderr)


def test_adding_a_feature_keeps_old_rows_counted_and_not_trained_on(workspace, caplog):
    """An installation of the course's columns adds a required feature: the old rows stay
    in the store, are counted by ingestion (its warning names the column), and the
    training set holds only new rows."""
    config = configure(workspace)
    ingestion.run_ingestion(config)
    spec = json.loads((workspace / "config.json").read_text(encoding="utf-8"))
    features = dict(config["schema"].to_dict()["features"])
    features["tenure"] = {"type": "integer", "min": 0}
    spec["schema"] = {**config["schema"].to_dict(), "features": features}
    (workspace / "config.json").write_text(json.dumps(spec), encoding="utf-8")
    newer = load_config(workspace / "config.json")
    rows = [(*r[:4], 3, r[4]) for r in small_rows(12, 300)]
    header = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,tenure,exited"
    write_csv(workspace / "practicedata" / "dataset3.csv", rows, header)
    result = ingestion.run_ingestion(newer)
    assert result.metrics["rows_not_trained"] == 40 and result.metrics["rows_kept"] == 12
    assert any("40 stored row(s) lack a column the current schema needs (tenure)" in
               r.getMessage() for r in caplog.records)  # fmt: skip
    assert len(store.training_rows(workspace / "ingesteddata", schema=newer["schema"])) == 12
    assert len(store.training_rows(workspace / "ingesteddata", schema=config["schema"])) == 52
    data = dataset.load_dataset(workspace / "ingesteddata" / "finaldata.csv", newer["schema"])
    assert len(data) == 12 and data["tenure"].eq(3).all()


def test_an_old_store_of_the_course_columns_migrates_and_keeps_working(workspace):
    """A version 2 store (three INTEGER NOT NULL columns) is moved to the schema columns:
    the same rows come back, and a new ingestion adds to them."""
    config = configure(workspace)
    folder = workspace / "ingesteddata"
    folder.mkdir()
    with closing(sqlite3.connect(store.store_path(folder))) as db:
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
            "INSERT INTO meta VALUES ('schema_version', '2');"
            "CREATE TABLE observations (seq INTEGER PRIMARY KEY, source_id INTEGER NOT NULL, "
            "corporation TEXT NOT NULL, lastmonth_activity INTEGER NOT NULL, "
            "lastyear_activity INTEGER NOT NULL, number_of_employees INTEGER NOT NULL, "
            "exited INTEGER, duplicate INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE sources (id INTEGER PRIMARY KEY, batch_id INTEGER, kind TEXT, "
            "name TEXT, path TEXT, sha256 TEXT, size INTEGER, mtime_ns INTEGER, status TEXT, "
            "entry TEXT);"
            "INSERT INTO sources (id, batch_id, kind, name, status, entry) "
            "VALUES (1, 1, 'legacy', 'old.csv', 'imported', '{}');"
            "INSERT INTO observations VALUES (1, 1, 'old1', 5, 50, 2, 1, 0);"
            "INSERT INTO observations VALUES (2, 1, 'old2', 500, 5000, 20, 0, 0);"
        )
    assert store.training_rows(folder) == [(1, "old1", 5, 50, 2, 1), (2, "old2", 500, 5000, 20, 0)]
    ingestion.run_ingestion(config)
    assert len(store.training_rows(folder)) == 42


def test_a_schema_the_file_cannot_satisfy_is_one_line():
    """parse_csv names the missing id column and what it found."""
    from risk_assessment.core.columns import parse_schema

    schema = parse_schema(SAAS)
    missing = r"account, nps, industry, region, auto_renew \(found: seats, churned\)"
    with pytest.raises(DataError, match=rf"^f.csv: missing column\(s\) {missing}$"):
        dataset.parse_csv(b"seats,churned\n1,yes\n", "f.csv", schema)


def test_12_5_in_a_count_is_refused_alike_by_the_api_and_ingestion(client, deployed):
    """The issue's case: 12.5 for an integer feature is a 400 naming the field from
    /prediction and /invocations, and a file row with it is dropped with the same reason
    while the good rows of the file are kept."""
    record = {"lastmonth_activity": 12.5, "lastyear_activity": 100, "number_of_employees": 3}
    for route, body in (
        ("/prediction", {"records": [record]}),
        ("/invocations", {"dataframe_records": [record]}),
    ):
        answer = client.post(route, json=body)
        assert answer.status_code == 400
        assert "lastmonth_activity" in answer.get_json()["message"]
        assert "non-integer lastmonth_activity" in answer.get_json()["message"]
    rows = [("x1", "12.5", 100, 3, 0), *small_rows(4, 700)]
    write_csv(deployed["input_folder_path"] / "dataset3.csv", rows)
    entry = ingestion.run_ingestion(deployed).ingested[0].entry
    assert entry["reasons"] == {"non-integer lastmonth_activity": 1} and entry["rows_kept"] == 4


def test_database_rows_follow_the_schema_like_file_rows(saas, tmp_path):
    """A database table in the schema's columns (an alias for the id, an extra column,
    NULL for the optional spend) is validated by the same rules: a bad level is dropped
    with its reason, the rest stored typed."""
    for name in ("one.csv", "two.csv"):
        (saas["input_folder_path"] / name).unlink()
    rows = [
        (i + 1, f"d{i}", 10 + i, None if i % 2 else 12.5, -20 + i, "tech", "east", 1, "no", 5.0)
        for i in range(6)
    ]
    rows[2] = (*rows[2][:6], "mars", *rows[2][7:])
    with closing(sqlite3.connect(tmp_path / "clients.db")) as conn, conn:
        conn.execute(
            "CREATE TABLE client_activity (id INTEGER, client_id TEXT, seats INTEGER, "
            "monthly_spend REAL, nps REAL, industry TEXT, region TEXT, auto_renew INTEGER, "
            "churned TEXT, extra REAL)"
        )
        conn.executemany(f"INSERT INTO client_activity VALUES ({', '.join('?' * 10)})", rows)
    config = configure(tmp_path, input_database={"url": "sqlite:///clients.db"})
    result = ingestion.run_ingestion(config)
    entry = result.database.entry
    assert entry["rows_kept"] == 5 and entry["reasons"] == {"region not one of its levels": 1}
    stored = store.all_observations(config["output_folder_path"], config["schema"])
    assert [r[1] for r in stored] == ["d0", "d1", "d3", "d4", "d5"]
    assert stored[0][2:8] == (10, 12.5, -20.0, "tech", "east", 1) and stored[1][3] is None
