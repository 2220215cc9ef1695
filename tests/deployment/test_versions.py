"""Deployment: versioned, atomic publication and verified loading of the model."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from risk_assessment.core.common import MODEL_FILE, MODEL_SKOPS, SCORE_FILE, ModelError, sha256_file
from risk_assessment.deployment import versions as deployment
from risk_assessment.modelling import scoring, training
from risk_assessment.sources import ingestion
from risk_assessment.store import accounts as store_accounts
from tests.conftest import deploy_renamed, deploy_workspace, run_script, small_rows, write_csv


def build(config) -> dict:
    """Train and score the workspace's model; returns the scores."""
    training.run_training(config)
    return scoring.run_scoring(config)


@pytest.fixture
def scored(config):
    """A workspace with ingested data, a trained and scored model."""
    ingestion.run_ingestion(config)
    build(config)
    return config


def retrain_on_more_data(config) -> dict:
    """Add a file, ingest, train and score again: a different model."""
    write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(30, 200))
    ingestion.run_ingestion(config)
    return build(config)


def test_deploys_a_version_with_manifest_and_flat_links(scored):
    """versions/v0001 holds every file with sha256s; the original flat names still work."""
    prod = scored["prod_deployment_path"]
    assert deployment.deploy(scored) == "v0001"
    manifest = json.loads((prod / "current" / "manifest.json").read_text())
    for name in (
        "trainedmodel.skops",
        "trainedmodel.pkl",
        "latestscore.txt",
        "ingestedfiles.txt",
        "scores.json",
        "trainedmodel.json",
        "ingestion_record.json",
    ):
        assert manifest["files"][name] == sha256_file(prod / "versions" / "v0001" / name)
    assert manifest["model_sha256"] == sha256_file(scored["output_model_path"] / MODEL_SKOPS)
    assert float((prod / SCORE_FILE).read_text()) == manifest["f1"]
    assert (prod / "ingestedfiles.txt").read_text().splitlines() == ["dataset1.csv", "dataset2.csv"]
    assert os.readlink(prod / "current") == "versions/v0001"


def test_deploying_the_live_model_again_changes_nothing(scored):
    """A second deploy of the same model keeps v0001 and makes no new version."""
    deployment.deploy(scored)
    assert deployment.deploy(scored) == "v0001"
    assert deployment.list_versions(scored["prod_deployment_path"]) == ["v0001"]


def test_new_model_becomes_a_new_version_and_old_is_kept(scored):
    """A retrained model deploys as v0002; v0001 stays on disk."""
    deployment.deploy(scored)
    scores = retrain_on_more_data(scored)
    assert deployment.deploy(scored) == "v0002"
    prod = scored["prod_deployment_path"]
    assert deployment.list_versions(prod) == ["v0001", "v0002"]
    _, manifest = deployment.load_deployed(prod)
    assert manifest["version"] == "v0002" and manifest["previous_version"] == "v0001"
    assert manifest["model_sha256"] == scores["model_sha256"]


def test_refuses_a_score_computed_for_another_model(scored):
    """Retraining without rescoring: deployment refuses the mismatched score."""
    training.run_training({**scored, "training": {**scored["training"], "C": 0.01}})
    with pytest.raises(ModelError, match="run scoring.py"):
        deployment.deploy(scored)
    assert not (scored["prod_deployment_path"] / "current").exists()


def test_missing_file_names_it_and_the_script_to_run(config):
    """Deploying before training names the missing model and training.py."""
    ingestion.run_ingestion(config)
    with pytest.raises(ModelError, match=r"trainedmodel\.skops: missing; run training.py"):
        deployment.deploy(config)


def test_load_deployed_returns_a_working_model(scored):
    """The verified deployed model predicts."""
    deployment.deploy(scored)
    model, manifest = deployment.load_deployed(scored["prod_deployment_path"])
    assert hasattr(model, "predict_proba") and manifest["version"] == "v0001"


@pytest.mark.parametrize("damage", ["truncate", "flip", "replace"])
def test_corrupted_deployed_model_is_refused(scored, damage):
    """A truncated, bit-flipped or swapped model file is refused before loading."""
    deployment.deploy(scored)
    path = scored["prod_deployment_path"] / "versions" / "v0001" / MODEL_SKOPS
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        path.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])
    else:
        import pickle

        path.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(ModelError, match="refusing to load") as err:
        deployment.load_deployed(scored["prod_deployment_path"])
    assert str(path) in str(err.value)


def test_no_deployment_is_a_clear_error(config):
    """Loading before any deployment says to run deployment.py."""
    with pytest.raises(ModelError, match="run deployment.py"):
        deployment.load_deployed(config["prod_deployment_path"])


def test_leftover_staging_folder_is_ignored(scored):
    """A crash while staging leaves a hidden folder that is not a version and not live."""
    deployment.deploy(scored)
    prod = scored["prod_deployment_path"]
    crashed = prod / "versions" / ".staging-crashed"
    crashed.mkdir()
    (crashed / MODEL_FILE).write_bytes(b"half a pick")
    assert deployment.list_versions(prod) == ["v0001"]
    _, manifest = deployment.load_deployed(prod)
    assert manifest["version"] == "v0001"
    retrain_on_more_data(scored)
    assert deployment.deploy(scored) == "v0002"


def test_readers_never_see_a_mix_of_versions(scored):
    """While deployments flip between two models, every read is one consistent set."""
    prod = scored["prod_deployment_path"]
    deployment.deploy(scored)
    first = scored["output_model_path"].parent / "first"
    first.mkdir()
    for name in (
        "trainedmodel.skops",
        "trainedmodel.pkl",
        "trainedmodel.json",
        "latestscore.txt",
        "scores.json",
    ):
        (first / name).write_bytes((scored["output_model_path"] / name).read_bytes())
    retrain_on_more_data(scored)
    configs = [{**scored, "output_model_path": first}, scored]
    errors, stop = [], threading.Event()

    def read_loop():
        while not stop.is_set():
            try:
                _, manifest = deployment.load_deployed(prod)
                score = float((Path(manifest["folder"]) / SCORE_FILE).read_text())
            except Exception as exc:  # a failed read is a failure of the test, not a crash
                errors.append(repr(exc))
                continue
            if score != manifest["f1"]:
                errors.append((manifest["version"], score))

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for i in range(12):
            deployment.deploy(configs[i % 2])
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert deployment.list_versions(prod) == ["v0001", "v0002"]  # later flips reuse them


def test_cli_list_shows_versions_and_live_marker(scored, workspace):
    """deployment.py --list prints each version and marks the live one."""
    deployment.deploy(scored)
    done = run_script("deployment.py", "--config", str(workspace / "config.json"), "--list")
    assert done.returncode == 0
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("v0001")][0]
    assert line.rstrip().endswith("*")


def test_redeploying_a_kept_model_reuses_its_version(scored):
    """The model of v0001 deployed again (after v0002) makes v0001 live; no v0003."""
    prod = scored["prod_deployment_path"]
    deployment.deploy(scored)
    first = scored["output_model_path"].parent / "first"
    first.mkdir()
    names = ("trainedmodel.skops", "trainedmodel.pkl", "trainedmodel.json")
    for name in (*names, "latestscore.txt", "scores.json"):
        (first / name).write_bytes((scored["output_model_path"] / name).read_bytes())
    retrain_on_more_data(scored)
    assert deployment.deploy(scored) == "v0002"
    assert deployment.deploy({**scored, "output_model_path": first}) == "v0001"
    assert deployment.list_versions(prod) == ["v0001", "v0002"]
    assert deployment.current_version(prod) == "v0001"


def test_cli_to_rolls_forward_and_back(scored, workspace):
    """--to v0002 after a rollback rolls forward; --rollback goes back; names are checked."""
    prod = scored["prod_deployment_path"]
    deployment.deploy(scored)
    retrain_on_more_data(scored)
    deployment.deploy(scored)
    cfg = ["--config", str(workspace / "config.json")]
    assert run_script("deployment.py", *cfg, "--rollback").returncode == 0
    assert deployment.current_version(prod) == "v0001"
    done = run_script("deployment.py", *cfg, "--to", "v0002")
    assert done.returncode == 0, done.stderr
    assert deployment.current_version(prod) == "v0002"
    assert deployment.load_deployed(prod)[1]["version"] == "v0002"
    done = run_script("deployment.py", *cfg, "--to", "v0009")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "v0009: no such version (kept: v0001, v0002)" in done.stderr
    assert deployment.current_version(prod) == "v0002"
    audit = store_accounts.audit_rows(scored["output_folder_path"])
    assert [(a["action"], a["target"]) for a in audit] == [
        ("switch", "v0002"),
        ("rollback", "v0001"),
    ]
    assert audit[0]["actor"].startswith("cli")


def test_to_refuses_a_broken_version(scored):
    """Switching to a version whose model fails verification leaves the live one live."""
    prod = scored["prod_deployment_path"]
    deployment.deploy(scored)
    retrain_on_more_data(scored)
    deployment.deploy(scored)
    (prod / "versions" / "v0001" / "trainedmodel.skops").write_bytes(b"broken")
    with pytest.raises(ModelError, match="refusing to load"):
        deployment.switch_to(prod, "v0001")
    assert deployment.current_version(prod) == "v0002"


def test_the_live_manifest_is_read_without_loading_the_model(config):
    """read_live_manifest: {} before the first deployment, then the live version's
    manifest as written (its F1 included), without loading or verifying the model."""
    prod = config["prod_deployment_path"]
    assert deployment.read_live_manifest(prod) == {}
    version = deploy_workspace(config)
    live = deployment.read_live_manifest(prod)
    written = json.loads((prod / "versions" / version / "manifest.json").read_text())
    assert live == written and isinstance(live["f1"], float)


def test_rollback_onto_a_version_of_other_columns_is_refused(workspace):
    """number_of_employees renamed (an alias maps the old header) and v0002 deployed on
    the new columns: rolling back to v0001, whose model reads the old name, is refused in
    one line and v0002 stays live (before: v0001 went live and the API answered 503)."""
    config = deploy_renamed(workspace)
    for args in (["--rollback"], ["--to", "v0001"]):
        done = run_script("deployment.py", "--config", str(config["config_file"]), *args)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
        assert len(errors) == 1 and "v0001: the model was trained on other columns" in errors[0]
        assert "v0002 stays live" in errors[0]
        assert deployment.current_version(config["prod_deployment_path"]) == "v0002"
