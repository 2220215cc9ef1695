"""Contributions in the model's own space: how far each feature moves a client's log-odds
away from those of a typical client of the training data (the risk list's reasons).

A part of risk.py (which re-exports these names). For a model whose first step is the
schema's ColumnTransformer, a feature's contribution sums those of its output columns
(one per category level), measured from the training data's mean recorded with the model.
"""

from __future__ import annotations

from typing import Any

from risk_assessment.core.common import ModelError

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.modelling.features import dense, output_features


def model_parts(model) -> tuple[Any, Any]:
    """(the steps before the classifier or None, the logistic regression) of a model.

    Supports a bare LogisticRegression, a Pipeline ending in one, and a wrapper such as
    FixedThresholdClassifier (its fitted .estimator_, else .estimator) around either.
    """
    seen = 0
    while not hasattr(model, "coef_") and not hasattr(model, "steps"):
        inner = getattr(model, "estimator_", None)
        inner = inner if inner is not None else getattr(model, "estimator", None)
        if inner is None or seen > 5:
            raise ModelError(f"{type(model).__name__}: cannot find a linear model to explain")
        model, seen = inner, seen + 1
    if hasattr(model, "steps"):
        head, last = (model[:-1] if len(model.steps) > 1 else None), model.steps[-1][1]
        if not hasattr(last, "coef_"):
            _, last = model_parts(last)
        return head, last
    return None, model


def is_standardizing(head) -> bool:
    """True when the last real step before the classifier centres and scales (StandardScaler)."""
    if head is None:
        return False
    real = [step for _, step in head.steps if step not in (None, "passthrough")]
    return bool(real) and hasattr(real[-1], "mean_") and hasattr(real[-1], "scale_")


def transformed(head, X: pd.DataFrame) -> np.ndarray:
    """X in the classifier's input space (after the pipeline's steps)."""
    return dense(X if head is None else head.transform(X))


def contributions(
    model, X: pd.DataFrame, profile: dict[str, Any], schema: ColumnSchema = DEFAULT_SCHEMA
) -> tuple[np.ndarray, np.ndarray]:
    """(per row and feature: coefficient x standardized value, the coefficients).

    After a StandardScaler the transformed values are already standardized (0 is the
    training mean). Otherwise the reference is a typical training client (the profile's
    means, transformed), so coef * (x' - ref') = (coef * std) * z for a raw feature.
    """
    head, lr = model_parts(model)
    names = schema.feature_names
    Xt = transformed(head, X[names])
    if is_standardizing(head):
        return Xt * lr.coef_[0], lr.coef_[0]
    means = pd.DataFrame([[profile[f]["mean"] for f in names]], columns=names)
    return (Xt - transformed(head, means)) * lr.coef_[0], lr.coef_[0]


def column_contributions(
    model, X: pd.DataFrame, schema: ColumnSchema, reference: list[float] | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """(per row and feature: the summed coef x (value - average client) of its output
    columns, per row and feature: whether the value is above that average) for a model
    whose first step is the schema's ColumnTransformer; None for other models.

    reference: the training data's mean in the classifier's input space (the model's
    metadata); without it, the mean of X."""
    head, lr = model_parts(model)
    if head is None or not isinstance(head[0], ColumnTransformer):
        return None
    Xt = transformed(head, X[schema.feature_names])
    ref = np.asarray(reference, dtype=float) if reference else Xt.mean(axis=0)
    owner = np.asarray(output_features(head[0], schema))
    parts = (Xt - ref) * lr.coef_[0]
    F = len(schema.features)
    contrib, above = np.zeros((len(X), F)), np.zeros((len(X), F), dtype=bool)
    for j in range(F):
        cols = owner == j
        contrib[:, j] = parts[:, cols].sum(axis=1)
        above[:, j] = (Xt[:, cols] - ref[cols]).sum(axis=1) > 0
    return contrib, above


def profile_of(data: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA) -> dict[str, Any]:
    """Means and stds of the numeric features of data (a model saved without a profile)."""
    return {
        f.name: {
            "mean": float(data[f.name].mean()),
            "std": float(data[f.name].std(ddof=1) or 1.0),
        }
        for f in schema.features
        if f.type != "category"
    }


def explain(model, X: pd.DataFrame, profile, schema: ColumnSchema, reference=None):
    """(contributions, above) per row and feature, for any supported model."""
    F = len(schema.features)
    if not len(X):
        return np.zeros((0, F)), np.zeros((0, F), dtype=bool)
    by_columns = column_contributions(model, X, schema, reference)
    if by_columns is not None:
        return by_columns
    contrib, coef = contributions(model, X.astype(float), profile, schema)
    return contrib, np.broadcast_to(np.asarray(coef) > 0, contrib.shape)  # pushes risk up
