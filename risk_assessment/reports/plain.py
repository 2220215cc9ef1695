"""Plain words for people who decide: why the live model was deployed, its quality as
people count, and how many current clients are expected to leave (95% interval).

A helper of the dashboard and the PDF's first page: facts in, sentences out; reads or
writes nothing. Test names, p-values and log-loss stay in text.py (the appendix).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from risk_assessment.reports.text import when

Z95 = 1.959963984540054  # the one interval level used throughout: 95%


def deploying_run(runs: list[dict[str, Any]], version: str) -> dict[str, Any] | None:
    """The run that deployed this version, or None (deployed by hand)."""
    return next((r for r in runs if r.get("new_version") == version), None)


# how a gate's reason starts when the live model read other columns (pipeline/gating.py)
CHANGED = "the schema changed"


def why_deployed(run: dict[str, Any] | None) -> str:
    """Why a run deployed its model, as a clause after 'because'."""
    if run is None:
        return "it was deployed by hand, not by a monitoring run"
    reason = (run.get("gate") or {}).get("reason") or ""
    if reason.startswith(CHANGED):  # the live model read other columns: no comparison
        return reason
    if not run.get("deployed_version"):
        return "it is the first model: no model was deployed yet"
    held = (run.get("gate") or {}).get("holdout") or {}
    caught = held.get("caught")
    if caught and caught["candidate"] > caught["deployed"]:
        more = caught["candidate"] - caught["deployed"]
        return (
            f"it predicts the latest clients better: on {caught['rows']:,} recent clients held "
            f"out from its training it would have caught {more:,} more of the "
            f"{caught['exits']:,} who left ({caught['candidate']:,} against {caught['deployed']:,})"
        )
    if held.get("f1_candidate") is not None:
        rows = (held.get("logloss") or {}).get("n", "the")
        return (
            f"it predicts the latest clients better: on {rows} recent clients held out from "
            f"its training it finds those who leave more reliably "
            f"(F1 {held['f1_candidate']:.2f} against {held['f1_deployed']:.2f})"
        )
    if run.get("model_drift"):
        return "the old model no longer predicted the new clients well"
    if run.get("data_drift"):
        return "the new clients' data had shifted away from what the old model learnt from"
    return "a monitoring run retrained it"


def decision_words(manifest: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """What was decided and why, in one or two plain sentences."""
    run = deploying_run(runs, manifest["version"])
    head = f"Model {manifest['version']} makes the list since {when(manifest['deployed_at'])}"
    if run is not None and not run.get("deployed_version"):
        return f"{head}: first model: no model was deployed yet."
    replaced = f", replacing {run['deployed_version']}" if run else ""
    return f"{head}{replaced}, because {why_deployed(run)}."


def out_of_ten(share: float | None) -> str:
    """'about 4' of every 10, or 'n/a' when the share is unknown."""
    if share is None or share != share:
        return "n/a"
    return f"about {round(10 * share)}"


def quality_words(scores: dict[str, Any]) -> str:
    """The model's quality on the test data as people count, from its confusion matrix."""
    cm = scores["confusion_matrix"]
    exits, flagged = cm["tp"] + cm["fn"], cm["tp"] + cm["fp"]
    recall = cm["tp"] / exits if exits else None
    precision = cm["tp"] / flagged if flagged else None
    return (
        f"Of every 10 clients who leave, the model flags {out_of_ten(recall)}; of every 10 "
        f"it flags, {out_of_ten(precision)} leave (checked on {scores['rows']:,} clients "
        f"whose outcome is known: {flagged:,} flagged, {cm['tp']:,} of them left)."
    )


def expected_exits(proba: np.ndarray) -> dict[str, float]:
    """Expected number of exits among clients with these exit probabilities, with a 95%
    interval (the sum of independent Bernoulli draws, normal approximation, in [0, n])."""
    p = np.asarray(proba, dtype=float)
    mean, sd = float(p.sum()), math.sqrt(float((p * (1 - p)).sum()))
    low = max(0.0, math.floor(mean - Z95 * sd))
    high = min(float(len(p)), math.ceil(mean + Z95 * sd))
    return {"clients": len(p), "expected": mean, "low": low, "high": high}


def exits_words(exits: dict[str, float], calls: dict[str, float] | None = None) -> str:
    """'Among the 4,758 current clients about 1,420 are expected to leave (95% interval
    1,390 to 1,450)', and how many of this week's calls, when given."""
    if not exits["clients"]:
        return "No current clients: nothing to expect."
    text = (
        f"Among the {exits['clients']:,} current clients, about {exits['expected']:,.0f} are "
        f"expected to leave (95% interval {exits['low']:,.0f} to {exits['high']:,.0f}), if "
        "the model's probabilities hold for them."
    )
    if calls and calls["clients"]:
        text += (
            f" Of the {calls['clients']:,} clients on this week's call list, about "
            f"{calls['expected']:,.0f} are expected to leave unless the call changes their mind."
        )
    return text


def drift_words(judged: list[dict[str, Any]], words=None) -> str:
    """Whether the last judged batch differs from the clients the model learnt from, per
    the test that decided (no test name: that is in the appendix)."""
    run = next((r for r in judged if isinstance(r.get("data_drift_psi"), dict)), None)
    if run is None:
        return "No batch of new clients has been judged for drift yet."
    name = words or (lambda f: f)
    tested = (run.get("verdict") or {}).get("data") or {}
    shifted = [f for f, v in tested.items() if v.get("drift")]
    total = len(tested) or len(run["data_drift_psi"])
    head = f"The last batch ({run['new_rows']:,} new clients, {when(run['started_at'])})"
    if not tested:
        return f"{head} was checked for drift before the tests were recorded."
    if not shifted:
        return f"{head} looks like the clients the model learnt from in all {total} features."
    return (
        f"{head} differs from the clients the model learnt from in {len(shifted)} of "
        f"{total} features: {', '.join(name(f) for f in shifted)}."
    )


def rejected_words(rejected: dict[str, Any] | None, top: int = 3) -> str:
    """One batch's rejected data in words: files rejected whole with why, rows dropped
    from the other files with their top reasons; '' when nothing was rejected."""
    if not rejected:
        return ""
    parts = [f"{f['name']} rejected ({f['error']})" for f in rejected["files"]]
    if rejected["rows"]:
        reasons = ", ".join(f"{r}: {n:,}" for r, n in list(rejected["reasons"].items())[:top])
        parts.append(f"{rejected['rows']:,} invalid rows dropped ({reasons})")
    return "; ".join(parts)


def not_trained_words(not_trained: dict[str, Any]) -> str:
    """'40 stored rows lack a column the current schema needs (seats): kept, not trained
    on.' for lookups.not_trained(); '' when there are none."""
    rows = int(not_trained.get("rows") or 0)
    if not rows:
        return ""
    names = ", ".join(not_trained.get("columns") or []) or "see the store"
    verb = "lacks" if rows == 1 else "lack"
    return (
        f"{rows:,} stored row{'' if rows == 1 else 's'} {verb} a column the current schema "
        f"needs ({names}): kept, not trained on."
    )


def run_words(run: dict[str, Any]) -> str:
    """Why a run did what it did, in words (its statistics stay in run["reason"])."""
    decision = run.get("decision")
    if run.get("error"):
        return run["error"]
    if decision == "deployed":
        return f"deployed because {why_deployed(run)}"
    if decision == "refused":
        return "a retrained model was not better on recent clients held out from its training"
    if decision == "no drift" and run.get("batch_f1") is None:
        return "too few new labelled rows to judge the model: it stays"
    if decision == "no drift":
        return "the model still predicts the new clients as well as before"
    return run.get("reason") or "nothing new to judge"
