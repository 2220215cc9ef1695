"""Model files cannot run code: signed manifests, skops with trusted types, no pickle loads."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pickle
import stat
from pathlib import Path

import pytest

from risk_assessment.core.common import (
    MODEL_FILE,
    MODEL_META,
    MODEL_SKOPS,
    ConfigError,
    ModelError,
    sha256_file,
)
from risk_assessment.core.settings import load_config
from risk_assessment.deployment import versions as deployment
from risk_assessment.modelling import scoring
from risk_assessment.modelling.scoring import load_model_verified
from risk_assessment.reports import diagnostics, reporting
from risk_assessment.server import app as api
from tests.conftest import configure, deploy_workspace, run_script, small_rows, write_csv

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


# --- load_model_verified ---------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path: Path) -> tuple[Path, str]:
    """A small skops model and its sha256."""
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    path = tmp_path / "trainedmodel.skops"
    path.write_bytes(skops.io.dumps(model))
    return path, sha256_file(path)


def test_verified_model_loads(model_file):
    """A file matching its recorded hash is loaded."""
    path, digest = model_file
    assert load_model_verified(path, digest).predict([[3.0]]).tolist() == [1]


def test_one_changed_byte_is_refused(model_file):
    """A file with one byte changed raises ModelError naming the path."""
    path, digest = model_file
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    path.write_bytes(bytes(payload))
    with pytest.raises(ModelError, match="refusing") as info:
        load_model_verified(path, digest)
    assert str(path) in str(info.value)


def test_truncated_model_is_refused(model_file):
    """A truncated file raises ModelError naming the path."""
    path, digest = model_file
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ModelError, match="refusing") as info:
        load_model_verified(path, digest)
    assert str(path) in str(info.value)


def test_a_pickle_never_runs_even_with_its_own_hash(model_file, tmp_path):
    """A malicious pickle is refused, with a wrong hash or its own: its payload never runs."""
    path, digest = model_file
    marker = tmp_path / "payload_ran"
    path.write_bytes(pickle.dumps(TouchOnUnpickle(marker)))
    with pytest.raises(ModelError, match="refusing"):
        load_model_verified(path, digest)
    with pytest.raises(ModelError, match="not a skops model"):
        load_model_verified(path, sha256_file(path))
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the payload is live: unpickled, it does run
    assert marker.exists()


class Untrusted:
    """A type that is not in TRUSTED_TYPES."""


def test_a_skops_file_with_an_untrusted_type_is_refused(tmp_path):
    """skops builds only the types listed in code: another type is refused by name."""
    import skops.io

    path = tmp_path / "trainedmodel.skops"
    path.write_bytes(skops.io.dumps({"model": Untrusted()}))
    with pytest.raises(ModelError, match="untrusted type.*Untrusted"):
        load_model_verified(path, sha256_file(path))


def test_the_coming_model_shape_loads(tmp_path):
    """FixedThresholdClassifier(Pipeline([log1p or passthrough, scaler or passthrough,
    LogisticRegression])) holds only trusted types and loads."""
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    x = np.arange(40, dtype=float).reshape(20, 2)
    y = (x[:, 0] > 18).astype(int)
    for transform, scale in [(FunctionTransformer(np.log1p), StandardScaler())] + [
        ("passthrough", "passthrough")
    ]:
        steps = [("transform", transform), ("scale", scale), ("model", LogisticRegression())]
        model = FixedThresholdClassifier(Pipeline(steps), threshold=0.3).fit(x, y)
        path = tmp_path / "trainedmodel.skops"
        path.write_bytes(skops.io.dumps(model))
        loaded = load_model_verified(path, sha256_file(path))
        assert loaded.predict(x).tolist() == model.predict(x).tolist()


def old_shape_model(schema, data):
    """A model as training built it before modelling/encoding.py, with scikit-learn alone:
    dense numeric blocks, an imputer and the OneHotEncoder on the categories' text."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    counts = Pipeline([("transform", FunctionTransformer(np.log1p)), ("scale", StandardScaler())])
    fill = SimpleImputer(strategy="constant", fill_value="missing")
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=True)
    categories = Pipeline([("impute", fill), ("onehot", onehot)])
    columns = ColumnTransformer(
        [("counts", counts, [0]), ("categories", categories, [1, 2])], sparse_threshold=1.0
    )
    pipe = Pipeline([("columns", columns), ("model", LogisticRegression())])
    X, y = data[schema.feature_names], data[schema.target.column]
    return FixedThresholdClassifier(pipe, threshold=0.4).fit(X, y)


@pytest.mark.parametrize("absent", [float("nan"), None], ids=["nan", "none"])
def test_a_model_saved_before_level_codes_loads_scores_and_explains(tmp_path, absent):
    """A model of the old input step (imputer and OneHotEncoder on text), saved as
    training saves it, loads through the trusted list, scores as before, and its effects
    and contributions name its levels; a missing value is the `missing` level, whether
    the imputer filled it (NaN) or the encoder kept it as a level (the loader's None)."""
    import numpy as np
    import pandas as pd

    from risk_assessment.core.columns import parse_schema
    from risk_assessment.modelling import training
    from risk_assessment.reports import effects, explain

    schema = parse_schema({"id": "acct", "target": "churn", "features": {
        "seats": {"type": "integer", "min": 0},
        "plan": {"type": "category", "required": False},
        "region": {"type": "category"},
    }})  # fmt: skip
    data = pd.DataFrame({
        "seats": np.arange(1, 13),
        "plan": pd.Series(["pro", "basic", absent, "pro"] * 3, dtype=object),
        "region": ["north", "south", "east"] * 4,
        "churn": [0, 1, 1, 0, 1, 0] * 2,
    })  # fmt: skip
    model = old_shape_model(schema, data)
    training.save_model(model, {"rows": len(data)}, tmp_path)
    loaded, _ = scoring.load_trained_model(tmp_path)
    X = data[schema.feature_names]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    found = [e["feature"] for e in effects.effects(loaded, {}, schema)]
    assert sorted(found) == sorted([
        "seats", "plan=basic", "plan=missing", "plan=pro",
        "region=east", "region=north", "region=south",
    ])  # fmt: skip
    contrib, _ = explain.explain(loaded, X, {}, schema)
    logit = loaded.estimator_.decision_function(X)
    np.testing.assert_allclose(contrib.sum(axis=1), logit - logit.mean(), atol=1e-9)


def test_a_trained_model_with_categories_holds_only_trusted_types(tmp_path):
    """The input step's own types (level codes, the ColumnTransformer that joins its
    blocks) are in TRUSTED_TYPES, and a model trained on categories holds nothing else."""
    import numpy as np
    import pandas as pd
    import skops.io

    from risk_assessment.core.columns import parse_schema
    from risk_assessment.core.settings import DEFAULTS
    from risk_assessment.modelling import training

    schema = parse_schema({"id": "acct", "target": "churn", "features": {
        "seats": {"type": "integer", "min": 0}, "nps": {"type": "number"},
        "renews": {"type": "boolean"}, "plan": {"type": "category", "required": False},
    }})  # fmt: skip
    data = pd.DataFrame({
        "seats": np.arange(20), "nps": np.linspace(-50, 50, 20), "renews": [0.0, 1.0] * 10,
        "plan": pd.Series(["pro", None, "basic", "pro"] * 5, dtype=object),
        "churn": [0, 1, 1, 0] * 5,
    })  # fmt: skip
    model, _ = training.train_model(data, DEFAULTS["training"], schema=schema)
    held = scoring.skops_types(skops.io.dumps(model))
    own = {"risk_assessment.modelling.encoding.LevelCodes",
           "risk_assessment.modelling.encoding.RowStack"}  # fmt: skip
    assert own <= held <= set(scoring.TRUSTED_TYPES)
    path = tmp_path / "trainedmodel.skops"
    path.write_bytes(skops.io.dumps(model))
    loaded = load_model_verified(path, sha256_file(path))
    X = data[schema.feature_names]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_missing_model_names_the_path(tmp_path):
    """A missing model file raises ModelError naming the path."""
    path = tmp_path / "models" / "trainedmodel.pkl"
    with pytest.raises(ModelError) as info:
        load_model_verified(path, "0" * 64)
    assert str(path) in str(info.value)


def test_model_without_recorded_hash_is_refused(model_file):
    """No recorded hash means no load."""
    path, _ = model_file
    with pytest.raises(ModelError, match="sha256"):
        load_model_verified(path, None)
