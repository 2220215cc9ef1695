"""Model health for the dashboard and the report: scores with intervals, the version
and run histories, judged batches, feature distributions, and small inline SVG charts.

A helper module: no web framework and no PDF library, so both app.py and reporting.py
can use it. run_history() and version_history() are the data access to repoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from risk_assessment.core.common import SCORES_JSON, read_json

import numpy as np
import pandas as pd

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.deployment.versions import read_manifests
from risk_assessment.modelling import scoring
from risk_assessment.store import records as store


def run_history(config: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """The last runs of fullprocess, newest first."""
    return store.read_history(config["output_folder_path"], limit)


def version_history(prod: Path) -> list[dict[str, Any]]:
    """Per deployed version, oldest first: version, folder, time and its test-data scores."""
    rows = []
    for manifest in read_manifests(prod):
        folder = Path(manifest["folder"])
        scores = read_json(folder / SCORES_JSON, {}) or {}
        rows.append(
            {
                "version": manifest["version"],
                "folder": folder,
                "deployed_at": manifest.get("deployed_at"),
                "model_sha256": manifest.get("model_sha256"),
                **{k: scores.get(k) for k in ("f1", "precision", "recall", "roc_auc")},
            }
        )
    return rows


def scores_with_interval(
    model, data: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA
) -> dict[str, Any]:
    """Metrics of a model on labelled data, with the 95% bootstrap interval of its F1."""
    scores = scoring.score_model(model, data, schema)
    y, X = data[schema.target.column], data[schema.feature_names]
    low, high = scoring.f1_interval(y, model.predict(X))
    return {**scores, "f1_low": low, "f1_high": high}


def previous_version(versions: list[dict[str, Any]], live: str) -> dict[str, Any] | None:
    """The entry of the version deployed before the live one, or None."""
    names = [v["version"] for v in versions]
    if live not in names or names.index(live) == 0:
        return None
    return versions[names.index(live) - 1]


def judgeable(run: dict[str, Any], min_rows: int) -> bool:
    """A run whose batch was scored and large enough to judge (as fullprocess does)."""
    return run.get("batch_f1") is not None and (run.get("new_rows") or 0) >= min_rows


def distributions(meta: dict[str, Any], run: dict | None, current: pd.DataFrame) -> dict:
    """Per feature: training decile shares and those of the judged batch when the run
    recorded them (data_drift_shares), else of today's current clients."""
    profile = meta.get("profile") or {}
    batch = (run or {}).get("data_drift_shares") or {}
    out = {}
    for f in profile:
        ref = profile.get(f)
        if not ref or "shares" not in ref:
            continue
        if f in batch:
            shares, label = batch[f], "batch"
        else:
            idx = np.searchsorted(np.asarray(ref["edges"]), current[f].to_numpy(float), "right")
            counts = np.bincount(idx, minlength=len(ref["shares"]))
            shares, label = (counts / max(len(current), 1)).tolist(), "current clients"
        out[f] = {"training": ref["shares"], "other": shares, "label": label}
    return out


# ---- inline SVG charts (offline, readable at 390 px) -----------------------------------------


def history_svg(versions: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    """F1 on the test data of each deployed version (line) and of each judged batch
    (square, with its interval, in the slot of the version it was checked against)."""
    if not versions:
        return ""
    # top: room for a version's F1 written above its dot when the F1 is 1
    width, height, left, top, bottom = 360, 182, 34, 20, 26
    n = len(versions)
    step = (width - left - 8) / n

    def x(i: float) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        return top + (1 - v) * (height - top - bottom)

    out = [
        f'<svg viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" role="img" '
        'aria-label="F1 of each deployed version and of each judged batch" font-size="12">'
    ]
    for v in (0, 0.25, 0.5, 0.75, 1):
        out.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e3e8ef"/>'
            f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#5b6775">{v:g}</text>'
        )
    points = [(x(i), y(v["f1"])) for i, v in enumerate(versions) if v["f1"] is not None]
    if points:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    out += version_marks(versions, x, y, height - 8)
    out += batch_marks(versions, runs, x, y, step)
    out.append("</svg>")
    return "".join(out)


def version_marks(versions: list[dict[str, Any]], x, y, label_y: float) -> list[str]:
    """The dots (and F1 values, when few) of the versions of history_svg(), and their names
    (every one when few, else about eight of them) along the x axis at label_y."""
    n = len(versions)
    label_every = max(1, round(n / 8))
    out = []
    for i, v in enumerate(versions):
        if v["f1"] is not None:
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v["f1"]):.1f}" r="3.5" fill="#1f5fa8"/>')
            if n <= 8:
                out.append(
                    f'<text x="{x(i):.1f}" y="{y(v["f1"]) - 7:.1f}" text-anchor="middle" '
                    f'fill="#1d2733">{v["f1"]:.2f}</text>'
                )
        if i % label_every == 0 or i == n - 1:
            out.append(
                f'<text x="{x(i):.1f}" y="{label_y}" text-anchor="middle" '
                f'fill="#5b6775">{v["version"]}</text>'
            )
    return out


def batch_marks(versions, runs, x, y, step) -> list[str]:
    """The squares and whiskers of the judged batches of history_svg()."""
    slot = {v["version"]: i for i, v in enumerate(versions)}
    judged = [r for r in reversed(runs) if r.get("batch_f1") is not None]
    judged = [r for r in judged if r.get("deployed_version") in slot]  # oldest first
    out = []
    for version, i in slot.items():
        mine = [r for r in judged if r["deployed_version"] == version]
        for k, r in enumerate(mine):
            bx = x(i) + step * (0.08 + 0.38 * (k + 1) / (len(mine) + 1))
            low, high = r.get("batch_f1_low"), r.get("batch_f1_high")
            if low is not None and high is not None:
                out.append(
                    f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{y(low):.1f}" y2="{y(high):.1f}" '
                    'stroke="#1d2733"/>'
                )
            out.append(
                f'<rect x="{bx - 3:.1f}" y="{y(r["batch_f1"]) - 3:.1f}" width="6" height="6" '
                f'fill="#1d2733"><title>run {r.get("id")}: {r.get("new_rows")} new rows, '
                f"F1 {r['batch_f1']:.2f} of {version}</title></rect>"
                f'<text x="{bx + 5:.1f}" y="{y(r["batch_f1"]) + 3:.1f}" font-size="9" '
                f'fill="#1d2733">run {r.get("id")}</text>'
            )
    return out


def bars_svg(training: list[float], other: list[float]) -> str:
    """Paired bars per decile bin: training data (grey) and the batch or current clients."""
    n = max(len(training), 1)
    top = max([*training, *other, 0.01])
    width, height, w = 200, 48, 200 / n
    out = [
        f'<svg viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        'aria-hidden="true">'
    ]
    for i, (a, b) in enumerate(zip(training, other, strict=False)):
        for j, (share, colour) in enumerate(((a, "#b9c3cf"), (b, "#1f5fa8"))):
            h = height * share / top
            out.append(
                f'<rect x="{i * w + 1 + j * (w - 2) / 2:.1f}" y="{height - h:.1f}" '
                f'width="{(w - 2) / 2:.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
    out.append("</svg>")
    return "".join(out)
