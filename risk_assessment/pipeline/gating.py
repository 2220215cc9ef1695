"""The retrain-and-gate step of the cron job (a part of fullprocess.py): candidates trained
on several windows, the best gated against the live model, a refused model kept aside.

Reads   the store's training rows (candidates.training_windows), the test data
Writes  output_model_path/   the chosen candidate, trained and scored (what deployment takes)
        output_model_path/refused/<time>/   a refused model, its scores and why
Run     by fullprocess.py (gate_step), with the writer lock held
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from risk_assessment.core.common import (
    MODEL_FILE,
    MODEL_META,
    MODEL_SKOPS,
    SCORE_FILE,
    SCORES_JSON,
    ModelError,
    now_iso,
    test_data_file,
    write_json,
)

from risk_assessment.core.columns import ColumnSchema
from risk_assessment.modelling import candidates, scoring, training
from risk_assessment.monitoring import statistics as monitoring
from risk_assessment.reports.plain import CHANGED as SCHEMA_CHANGED
from risk_assessment.schema.dataset import load_dataset


def retrain_and_gate(config: dict[str, Any], batch_id: int, deployed) -> dict[str, Any]:
    """Retrain and decide: candidates on several windows, the best on the batch's holdout
    gated against the deployed model (paired, with an interval). The chosen candidate is
    saved as the trained model and scored on the test data (the reported score).

    Returns the gate record: deploy, reason, window, new_f1, model_sha256, holdout numbers.
    """
    if deployed is None:
        return first_model(config)
    settings = config["gate"]
    windows, holdout = candidates.training_windows(config, batch_id, settings["holdout_share"])
    schema = config["schema"]
    fitted = candidates.fit_candidates(windows, config["training"], schema)
    if not fitted:
        raise ModelError(f"batch {batch_id}: no training window gave a model (too few rows?)")
    target = schema.target.column
    usable = len(holdout) >= settings["min_holdout_rows"] and holdout[target].nunique() == 2
    record = holdout_gate(holdout, fitted, deployed, settings, batch_id, schema) if usable else None
    best = record["window"] if record else ("all" if "all" in fitted else next(iter(fitted)))
    candidates.save_candidate(config, best, fitted[best])
    scores = scoring.run_scoring(config)
    if record is None:  # too few new labelled rows to hold out: the test data decides
        record = testdata_gate(config, scores["f1"], deployed, best, len(holdout))
    if not record["deploy"] and config["deployment"]["force"]:
        record.update(deploy=True, reason=f"forced (deployment.force): {record['reason']}")
    return {**record, "new_f1": scores["f1"], "model_sha256": scores["model_sha256"]}


FIRST_MODEL = "first model: no model was deployed yet"  # the whole reason, said once


def first_model(config: dict[str, Any]) -> dict[str, Any]:
    """No model is live yet, or the live one was trained on other columns than the schema's
    (the reason says so): train on everything, score, and deploy it."""
    from risk_assessment.pipeline.judging import schema_changed

    changed = schema_changed(config)
    training.run_training(config)
    scores = scoring.run_scoring(config)
    return {
        "deploy": True,
        "reason": f"{SCHEMA_CHANGED}: {changed}; a model on its columns replaces it"
        if changed
        else FIRST_MODEL,
        "first": True,
        "window": "all",
        "new_f1": scores["f1"],
        "model_sha256": scores["model_sha256"],
    }


def testdata_gate(
    config: dict[str, Any], new_f1: float, deployed, window: str, holdout_rows: int
) -> dict[str, Any]:
    """The gate when the holdout is too small: the candidate's F1 on the test data against
    the deployed model's (monitoring.gate_decision)."""
    schema = config["schema"]
    test = load_dataset(test_data_file(config["test_data_path"]), schema)
    deployed_f1 = scoring.score_model(deployed, test, schema)["f1"]
    ok, why = monitoring.gate_decision(new_f1, deployed_f1, False)
    return {
        "deploy": ok,
        "reason": f"holdout too small ({holdout_rows} rows); {why}",
        "window": window,
    }


def holdout_gate(
    holdout, fitted: dict, deployed, settings: dict, seed: int, schema: ColumnSchema
) -> dict[str, Any]:
    """The candidate with the lowest holdout log-loss, gated against the deployed model on
    the same rows (monitoring.paired_gate)."""
    y, X = holdout[schema.target.column].to_numpy(), holdout[schema.feature_names]
    probs = {name: c["model"].predict_proba(X)[:, 1] for name, c in fitted.items()}
    losses = {name: float(monitoring.row_logloss(y, p).mean()) for name, p in probs.items()}
    best = min(losses, key=losses.get)
    cut = getattr(fitted[best]["model"], "threshold", 0.5)
    old_cut = getattr(deployed, "threshold", 0.5)
    old = deployed.predict_proba(X)[:, 1]
    result = monitoring.paired_gate(y, probs[best], old, cut, old_cut, settings["alpha"], seed)
    caught = {  # people's numbers: of the exits held out, how many each model flags
        "rows": len(y),
        "exits": int((y == 1).sum()),
        "candidate": int(((probs[best] >= cut) & (y == 1)).sum()),
        "deployed": int(((old >= old_cut) & (y == 1)).sum()),
    }
    rows = len(fitted[best]["data"])
    return {
        "deploy": result.deploy,
        "window": best,
        "holdout_rows": result.n,
        "reason": f"candidate '{best}' ({rows} rows): {result.reason}",
        "candidates_logloss": losses,
        "holdout": {
            "logloss": result.logloss.as_dict(),
            "roc_auc": result.roc_auc.as_dict(),
            "f1": result.f1.as_dict(),
            "f1_candidate": result.f1_candidate,
            "f1_deployed": result.f1_deployed,
            "caught": caught,
        },
    }


def keep_refused(config: dict[str, Any], reason: str) -> Path:
    """Copy the refused model and its scores aside, with the reason, for inspection."""
    folder = config["output_model_path"] / "refused" / now_iso().replace(":", "")
    folder.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, MODEL_SKOPS, MODEL_META, SCORE_FILE, SCORES_JSON):
        shutil.copy2(config["output_model_path"] / name, folder / name)
    write_json(folder / "refused.json", {"reason": reason, "time": now_iso()})
    return folder
