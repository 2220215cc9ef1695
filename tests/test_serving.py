"""serving.py: the numpy twin of the served model, for today's model and the coming one."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from common import FEATURES
from protocol import ApiError
from serving import numpy_twin, predict


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
