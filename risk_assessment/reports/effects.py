"""For the data scientist: what the model learnt (standardised effects per feature, with
their direction in words), how well its probabilities hold (a reliability table on the
latest labelled data, and its SVG), and the label-free estimate of its quality on the
current clients. Facts in, tables and text out; reads or writes nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from risk_assessment.core.columns import ColumnSchema
from risk_assessment.modelling.features import output_features, output_levels
from risk_assessment.reports.explain import is_standardizing, model_parts

BINS = 10  # reliability bins of equal width in predicted probability
GREY = 'fill="#5b6775"'  # axis text


def model_columns(model, profile: dict[str, Any], schema: ColumnSchema):
    """(coefficients per SD or per level, (feature, level) per coefficient) of a model:
    one per output column of the schema's ColumnTransformer; one per feature for a model
    without it (per raw unit scaled by the training std when nothing standardises)."""
    head, lr = model_parts(model)
    coef = np.asarray(lr.coef_[0], dtype=float)
    if head is not None and isinstance(head[0], ColumnTransformer):
        owner, levels = output_features(head[0], schema), output_levels(head[0])
        return coef, [(schema.features[o], lv) for o, lv in zip(owner, levels, strict=True)]
    names = schema.feature_names
    if not is_standardizing(head):  # per raw unit: scale by the training std
        coef = coef * np.array([profile.get(f, {}).get("std", 1.0) or 1.0 for f in names])
    return coef, [(f, None) for f in schema.features]


def direction(feature, level, c: float) -> str:
    """'more seats: lower exit risk', 'industry is retail: higher exit risk'."""
    if not c:
        return f"{feature.words}: no effect"
    way = "higher" if c > 0 else "lower"
    if level is not None:
        return f"{feature.words} is {level}: {way} exit risk than its other levels"
    if feature.type == "boolean":
        return f"{feature.words} is yes: {way} exit risk"
    return f"more {feature.words}: {way} exit risk"


def effects(model, profile: dict[str, Any], schema: ColumnSchema) -> list[dict[str, Any]]:
    """Per model input (a numeric feature, a boolean, a category's level): the model's
    coefficient per standard deviation (in the model's own space, after any log step) or
    per level, its odds ratio, and its direction in the feature's words. Largest first."""
    coef, columns = model_columns(model, profile, schema)
    out = [
        {
            "feature": f.name if level is None else f"{f.name}={level}",
            "words": f.words if level is None else f"{f.words}: {level}",
            "per_sd": float(c),
            "odds_ratio": float(math.exp(c)),
            "direction": direction(f, level, c),
        }
        for (f, level), c in zip(columns, coef, strict=True)
    ]
    return sorted(out, key=lambda e: -abs(e["per_sd"]))


def reliability(model, data: pd.DataFrame, schema: ColumnSchema) -> list[dict[str, Any]]:
    """Per non-empty bin of predicted probability: clients, mean predicted, observed exit
    rate. data: labelled rows (the latest labelled batch, or the test data)."""
    target = schema.target.column
    labelled = data[data[target].notna()]
    if labelled.empty:
        return []
    p = model.predict_proba(labelled[schema.feature_names])[:, 1]
    y = labelled[target].astype(float).to_numpy()
    which = np.minimum((p * BINS).astype(int), BINS - 1)
    return [
        {
            "low": b / BINS,
            "high": (b + 1) / BINS,
            "clients": int((which == b).sum()),
            "predicted": float(p[which == b].mean()),
            "observed": float(y[which == b].mean()),
        }
        for b in range(BINS)
        if (which == b).any()
    ]


def label_free_estimate(proba: np.ndarray, cut: float) -> dict[str, Any]:
    """Expected precision, recall and F1 on unlabelled clients if the probabilities hold
    (confidence-based estimation): a flagged client exits with its probability."""
    p = np.asarray(proba, dtype=float)
    if not len(p):
        return {"clients": 0, "reason": "no current clients to estimate on"}
    flagged = p >= cut
    tp, fp, fn = p[flagged].sum(), (1 - p[flagged]).sum(), p[~flagged].sum()
    return {
        "clients": len(p),
        "flagged": int(flagged.sum()),
        "precision": float(tp / (tp + fp)) if flagged.any() else None,
        "recall": float(tp / (tp + fn)) if tp + fn else None,
        "f1": float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else None,
    }


def reliability_svg(bins: list[dict[str, Any]]) -> str:
    """The reliability plot: observed exit rate against mean predicted probability per
    bin (dot size by clients), with the diagonal of perfect calibration."""
    size, pad = 220, 30
    span = size - 2 * pad

    def at(v: float) -> float:
        return pad + v * span

    out = [
        f'<svg viewBox="0 0 {size} {size}" xmlns="http://www.w3.org/2000/svg" role="img" '
        'aria-label="Reliability plot: observed exit rate against predicted probability" '
        'font-size="10" id="reliability">',
        f'<line x1="{at(0)}" y1="{size - at(0)}" x2="{at(1)}" y2="{size - at(1)}" '
        'stroke="#b9c3cf" stroke-dasharray="4 3"/>',
        f'<text x="{size / 2}" y="{size - 2}" text-anchor="middle" fill="#5b6775">predicted</text>',
        f'<text x="10" y="{size / 2}" transform="rotate(-90 10 {size / 2})" text-anchor="middle" '
        'fill="#5b6775">observed</text>',
    ]
    out.append(
        f'<rect x="{at(0)}" y="{size - at(1)}" width="{span}" height="{span}" fill="none" '
        'stroke="#d6dde6"/>'
    )
    for v in (0, 0.5, 1):
        out.append(
            f'<text x="{at(v)}" y="{size - pad + 12}" text-anchor="middle" {GREY}>{v:g}</text>'
            f'<text x="{pad - 4}" y="{size - at(v) + 3}" text-anchor="end" {GREY}>{v:g}</text>'
        )
    most = max([b["clients"] for b in bins] + [1])
    for b in bins:
        r = 2.5 + 5 * math.sqrt(b["clients"] / most)
        out.append(
            f'<circle cx="{at(b["predicted"]):.1f}" cy="{size - at(b["observed"]):.1f}" '
            f'r="{r:.1f}" fill="#1f5fa8"><title>{b["clients"]} clients: predicted '
            f"{b['predicted']:.2f}, observed {b['observed']:.2f}</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)
