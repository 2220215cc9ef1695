"""The training profiles saved with a model (a part of training.py): each numeric or
boolean feature's deciles (feature_profile; the reference of the PSI data-drift check)
and every feature's profile by type (monitoring/typed_drift.py), each number's deciles
computed once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.monitoring.typed_drift import profile_by_type

PROFILE_BINS = 10  # deciles: the reference distribution for data-drift checks (PSI)


def feature_profile(
    data: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA, typed: dict | None = None
) -> dict[str, dict[str, Any]]:
    """Per numeric or boolean feature: mean, std, decile edges, share of rows per bin.

    Saved with the model, so data drift can be measured against the model's own
    training data without keeping a copy of it. A numeric feature's entry of the typed
    profile (profile_by_type: the same deciles of the same values) is taken as it is.
    """
    profile = {}
    for col in [f.name for f in schema.features if f.type != "category"]:
        known = (typed or {}).get(col) or {}
        if "edges" in known and known["rows"]:
            profile[col] = {k: known[k] for k in ("mean", "std", "edges", "shares")}
            continue
        values = data[col].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        inner = np.quantile(values, np.linspace(0, 1, PROFILE_BINS + 1)[1:-1])
        edges = np.unique(inner)
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        profile[col] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "edges": edges.tolist(),
            "shares": (counts / len(values)).tolist(),
        }
    return profile


def profiles(data: pd.DataFrame, schema: ColumnSchema) -> dict[str, dict]:
    """The training profiles saved with a model: by decile (profile) and by feature type
    (typed_profile, data drift by type), each number's deciles computed once."""
    typed = profile_by_type(data, schema)
    return {"profile": feature_profile(data, schema, typed), "typed_profile": typed}
