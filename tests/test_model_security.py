"""Model files cannot run code: signed manifests, skops with trusted types, no pickle loads."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pickle
import stat

import pytest
from conftest import configure, deploy_workspace, run_script, small_rows, write_csv

import app as api
import deployment
import diagnostics
import reporting
import scoring
from common import MODEL_FILE, MODEL_META, MODEL_SKOPS, ConfigError, ModelError
from settings import load_config

MANIFEST = "manifest.json"


class TouchOnUnpickle:
    """Pickles to a call of Path.touch(marker): unpickling it leaves a visible trace."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_manifest_is_signed_with_a_0600_key_outside_the_deployment(deployed, workspace):
    """The first deploy creates the key beside prod_deployment_path (0600); the manifest
    carries an HMAC-SHA256 signature."""
    key = deployed["deployment"]["signing_key_path"]
    assert key == workspace / "production_deployment.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    manifest = json.loads((deployed["prod_deployment_path"] / "current" / MANIFEST).read_text())
    assert len(manifest["signature"]) == 64
    assert manifest["signature"] == deployment.manifest_signature(
        manifest, key.read_bytes().strip()
    )


def test_a_hand_rewritten_manifest_is_refused(deployed):
    """A forged F1 in the manifest breaks its signature: load and /version refuse it."""
    path = deployed["prod_deployment_path"] / "current" / MANIFEST
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "f1": 0.999}))
    with pytest.raises(ModelError, match="signature does not match"):
        deployment.load_deployed(deployed["prod_deployment_path"])
    answer = api.create_app(deployed).test_client().get("/version")
    assert answer.status_code == 503 and "0.999" not in answer.get_data(as_text=True)


def test_an_unsigned_manifest_or_a_missing_key_is_refused(deployed):
    """No signature, or no key to check it with: refused, saying why."""
    key = deployed["deployment"]["signing_key_path"]
    key.unlink()
    with pytest.raises(ModelError, match="signing key not found"):
        deployment.load_deployed(deployed["prod_deployment_path"], key)
    path = deployed["prod_deployment_path"] / "current" / MANIFEST
    manifest = json.loads(path.read_text())
    del manifest["signature"]
    path.write_text(json.dumps(manifest))
    other = key.with_name("other.key")
    other.write_text("ab" * 32)
    with pytest.raises(ModelError, match="not signed"):
        deployment.load_deployed(deployed["prod_deployment_path"], other)


def test_a_key_inside_the_deployment_folder_is_a_config_error(workspace):
    """signing_key_path inside prod_deployment_path would let the folder vouch for itself."""
    configure(workspace)
    with pytest.raises(ConfigError, match="signing_key_path"):
        configure(workspace, deployment={"signing_key_path": "production_deployment/k.key"})


def test_a_configured_key_path_is_used(workspace):
    """deployment.signing_key_path places the key; every reader uses it."""
    config = configure(workspace, deployment={"signing_key_path": "keys/deploy.key"})
    deploy_workspace(config)
    assert (workspace / "keys" / "deploy.key").is_file()
    assert not (workspace / "production_deployment.key").exists()
    assert reporting.deployed_risk_table(config)[1]["version"] == "v0001"


def plant_pickle(folder: pathlib.Path, marker: pathlib.Path, meta: str) -> None:
    """Replace the model files of folder by a malicious pickle and write its sha256 into
    the record (manifest or trainedmodel.json) as an attacker without the key would."""
    payload = pickle.dumps(TouchOnUnpickle(marker))
    digest = hashlib.sha256(payload).hexdigest()
    for name in (MODEL_FILE, MODEL_SKOPS):
        target = folder / name
        target.unlink(missing_ok=True)
        target.write_bytes(payload)
    record = json.loads((folder / meta).read_text())
    record["model_sha256"] = digest
    if "files" in record:
        record["files"].update({MODEL_FILE: digest, MODEL_SKOPS: digest})
    (folder / meta).write_text(json.dumps(record))


def test_a_planted_pickle_never_runs(workspace, tmp_path):
    """A malicious pickle with its sha256 written beside it is never executed by the
    scripts, fullprocess, rollback or the API: the marker file is never created."""
    config = load_config(workspace / "config.json")
    deploy_workspace(config)
    write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(30, 200))
    deploy_workspace(config)
    marker = tmp_path / "payload_ran"
    prod = config["prod_deployment_path"]
    for version in ("v0001", "v0002"):
        plant_pickle(prod / "versions" / version, marker, MANIFEST)
    plant_pickle(config["output_model_path"], marker, MODEL_META)
    attempts = [
        lambda: scoring.run_scoring(config),
        lambda: diagnostics.diagnostics_text(config),
        lambda: reporting.report_facts(config),
        lambda: reporting.deployed_risk_table(config),
        lambda: deployment.rollback(prod),
        lambda: deployment.load_deployed(prod),
    ]
    for attempt in attempts:
        with pytest.raises(ModelError):
            attempt()
    client = api.create_app(config).test_client()
    for route in ("/health", "/version", "/scoring", "/prediction?filename=testdata/testdata.csv"):
        assert client.get(route).status_code == 503
    write_csv(config["input_folder_path"] / "dataset4.csv", small_rows(30, 400))
    cfg = str(workspace / "config.json")
    for script in (["fullprocess.py"], ["deployment.py", "--rollback"], ["scoring.py"]):
        done = run_script(*script, "--config", cfg, env={"HOME": str(tmp_path)})
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert not marker.exists()
    assert os.readlink(prod / "current") == "versions/v0002"
