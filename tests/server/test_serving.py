"""serving.py: the numpy twin of the served model (today's model and the coming one), and
the safe reads of data files that requests name (hostile paths, through the app)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from risk_assessment.server.protocol import ApiError
from risk_assessment.server.serving import numpy_twin, predict
from tests.conftest import (
    FEATURES,  # the default schema's columns
    deploy_workspace,
    shared_deployment,
    small_rows,
    write_csv,
)

SECRET = "SECRET-MARKER-7f3a"


def training_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """A small DataFrame with the features, and labels (low activity exits)."""
    rng = np.random.default_rng(0)
    x = rng.lognormal(3, 1, size=(200, 3))
    return pd.DataFrame(x, columns=FEATURES), (x[:, 0] < 20).astype(int)


def coming_model(transform, scale):
    """FixedThresholdClassifier(Pipeline([transform, scale, LogisticRegression]))."""
    steps = [("transform", transform), ("scale", scale), ("model", LogisticRegression())]
    return FixedThresholdClassifier(Pipeline(steps), threshold=0.3)


@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(),
        coming_model(FunctionTransformer(np.log1p), StandardScaler()),
        coming_model("passthrough", "passthrough"),
    ],
    ids=["logistic", "threshold-log1p-scaler", "threshold-passthrough"],
)
def test_twin_scores_numpy_rows_like_the_model(model):
    """The twin forgets feature names and gives the model's labels and probabilities."""
    frame, y = training_frame()
    model.fit(frame, y)
    twin = numpy_twin(model)
    assert twin is not None
    rows = frame.to_numpy()[:50]
    labels, proba = predict(twin, rows)
    assert labels.tolist() == model.predict(frame[:50]).tolist()
    assert np.allclose(proba, model.predict_proba(frame[:50])[:, 1], rtol=0, atol=1e-12)
    assert twin is not model
    with pytest.warns(UserWarning, match="feature names"):  # the model itself keeps them
        model.predict(rows)


def test_values_the_model_cannot_score_are_a_400():
    """log1p of a value below -1 is NaN: refused as the caller's error, not a crash."""
    frame, y = training_frame()
    model = coming_model(FunctionTransformer(np.log1p), StandardScaler()).fit(frame, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log1p's own warning
        with pytest.raises(ApiError) as info:
            predict(numpy_twin(model), np.array([[-5.0, 1.0, 1.0]]))
    assert info.value.status == 400 and "cannot score" in str(info.value)


# --- hostile paths ----------------------------------------------------------------------------


def plant_outside(folder: Path) -> Path:
    """A CSV outside folder's data folders holding the secret, symlinks to it from testdata
    and a text file there; returns the CSV."""
    secret = write_csv(folder / "private" / "secret.csv", [(SECRET, 1, 2, 3, 0)])
    os.symlink(secret, folder / "testdata" / "leak.csv")
    os.symlink(secret.parent, folder / "testdata" / "private")
    (folder / "testdata" / "notes.txt").write_text(SECRET, encoding="utf-8")
    return secret


@pytest.fixture
def outside(deployed) -> Path:
    """The secret CSV outside the deployed workspace's data folders (planted already in the
    shared deployment of the tests marked reads_deployment)."""
    folder = deployed["config_file"].parent
    secret = folder / "private" / "secret.csv"
    return secret if secret.exists() else plant_outside(folder)


def deploy_and_plant(config: dict) -> None:
    """Deploy the workspace, then plant the secret outside its data folders."""
    deploy_workspace(config)
    plant_outside(config["config_file"].parent)


@pytest.fixture(scope="module")
def shared_deployed(tmp_path_factory):
    """A deployment with the secret planted, for the hostile requests that only read."""
    return shared_deployment(tmp_path_factory, deploy_and_plant)


HOSTILE = [
    ("/etc/passwd", 403),
    ("ABSOLUTE", 403),
    ("../config.json", 403),
    ("testdata/../../etc/passwd", 403),
    ("testdata/../private/secret.csv", 403),
    ("testdata/leak.csv", 403),
    ("testdata/private/secret.csv", 403),
    ("testdata/notes.txt", 400),
    ("testdata/nothere.csv", 404),
]


def hostile_path(given: str, secret: Path) -> str:
    """The path to send: ABSOLUTE stands for the secret file's absolute path."""
    return str(secret) if given == "ABSOLUTE" else given


@pytest.mark.reads_deployment
@pytest.mark.parametrize(("given", "status"), HOSTILE)
def test_hostile_filepath_by_post(client, outside, given, status):
    """Paths leading outside the data folders are refused and nothing leaks."""
    answer = client.post("/prediction", json={"filepath": hostile_path(given, outside)})
    assert answer.status_code == status
    assert "error" in answer.get_json()
    text = answer.get_data(as_text=True)
    assert SECRET not in text and "root:" not in text


@pytest.mark.reads_deployment
@pytest.mark.parametrize(("given", "status"), HOSTILE)
def test_hostile_filename_by_get(client, outside, given, status):
    """The same paths in the query string are refused the same way."""
    answer = client.get("/prediction", query_string={"filename": hostile_path(given, outside)})
    assert answer.status_code == status
    assert SECRET not in answer.get_data(as_text=True)


@pytest.mark.reads_deployment
def test_url_encoded_dotdot_is_refused(client, outside):
    """%2e%2e%2f in the raw query string decodes to ../ and is refused."""
    answer = client.get("/prediction?filename=%2e%2e%2fconfig.json")
    assert answer.status_code == 403 and "error" in answer.get_json()
    assert "input_folder_path" not in answer.get_data(as_text=True)


def test_hard_link_to_an_outside_file_is_refused(client, outside, workspace):
    """A hard link inside testdata to a file outside: opened, then refused (link count 2)."""
    os.link(outside, workspace / "testdata" / "hard.csv")
    answer = client.post("/prediction", json={"filepath": "testdata/hard.csv"})
    assert answer.status_code == 403 and "link" in answer.get_json()["message"]
    assert SECRET not in answer.get_data(as_text=True)


def test_symlink_swap_loop_never_leaks(client, outside, workspace):
    """A file swapped with a symlink to the secret between requests never leaks it."""
    import threading

    swap, stop = workspace / "testdata" / "swap.csv", threading.Event()

    def swapper():
        while not stop.is_set():
            write_csv(swap.with_name(".regular.tmp"), small_rows(3, 700))
            os.replace(swap.with_name(".regular.tmp"), swap)
            swap.with_name(".link.tmp").unlink(missing_ok=True)
            os.symlink(outside, swap.with_name(".link.tmp"))
            os.replace(swap.with_name(".link.tmp"), swap)

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    statuses = set()
    try:
        for _ in range(300):
            answer = client.post("/prediction", json={"filepath": "testdata/swap.csv"})
            assert SECRET not in answer.get_data(as_text=True)
            statuses.add(answer.status_code)
    finally:
        stop.set()
        thread.join()
    assert statuses <= {200, 403, 404}


@pytest.mark.reads_deployment
@pytest.mark.parametrize(
    "given", ["testdata/" + "a" * 300 + ".csv", "testdata/" + "d/" * 3000 + "x.csv"]
)
def test_over_long_paths_are_400(client, given):
    """A 300-character name or a 6,000-character path: 400 before any file access."""
    for answer in (
        client.post("/prediction", json={"filepath": given}),
        client.get("/prediction", query_string={"filename": given}),
    ):
        assert answer.status_code == 400 and "longer than" in answer.get_json()["message"]
