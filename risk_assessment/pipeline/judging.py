"""The drift verdict on a batch (a part of fullprocess.py): model drift on its labelled rows,
data drift on every row, a label-free F1 estimate on the unlabelled ones; retrain or not.

Reads   the store's batch rows, the live deployment (model, manifest, training profile)
Run     by fullprocess.py (judge_step and --dry-run); computes, writes nothing

Standard library, common.py and store.py at the top: pandas, scikit-learn and the scripts
are imported inside the functions, once a batch is there to judge.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

from risk_assessment.store import records as store

log = logging.getLogger("fullprocess")


class Verdict(NamedTuple):
    """The judgement of a batch, stored with it (as a dict) once it is judged."""

    fields: dict[str, Any]  # the run's drift fields, "verdict" holding every test's numbers
    retrain: bool
    reason: str  # every finding and the decision, in words


class Finding(NamedTuple):
    """One test of a batch: run fields, numbers for the verdict, a sentence."""

    fields: dict[str, Any]
    numbers: dict[str, Any]
    reason: str


def batch_frame(config: dict[str, Any], batch_id: int, db=None):
    """A batch's new observations as a frame (exited <NA> when unlabelled)."""
    from risk_assessment.schema.dataset import observations_frame

    schema = config["schema"]
    rows = store.batch_rows(config["output_folder_path"] if db is None else db, batch_id, schema)
    frame = observations_frame(rows, schema).drop(columns="seq")
    frame.attrs["target"] = schema.target.column
    return frame


def load_live(config: dict[str, Any]):
    """(model, manifest) of the live deployment; (None, None) before the first one and
    when the live version is a legacy pickle (see legacy_version_is_live).

    A deployment that exists but fails verification raises: it must be repaired, never
    silently replaced. One trained on other columns than the schema's (the user changed
    the schema) counts as no deployment, with a warning: it is never judged or served with
    the wrong columns, and the batch trains its successor on the schema's columns.
    """
    from risk_assessment.core.common import SchemaChanged

    from risk_assessment.deployment.versions import current_version, load_deployed

    prod = config["prod_deployment_path"]
    if current_version(prod) is None or legacy_version_is_live(prod):
        return None, None
    key_file = config["deployment"]["signing_key_path"]
    try:
        return load_deployed(prod, key_file, config["schema"])
    except SchemaChanged as exc:
        log.warning("%s; the model trained on this batch replaces it", exc.fact)
        return None, None


def warn_if_schema_changed(config: dict[str, Any]) -> None:
    """On a tick without new data: warn when the live model was trained on other columns
    than the schema's (the API answers 503 until a batch trains its successor)."""
    if fact := schema_changed(config):
        log.warning("%s; the next batch of data trains its successor", fact)


def schema_changed(config: dict[str, Any]) -> str | None:
    """What differs when the live model was trained on other columns than the schema's
    (SchemaChanged.fact); None otherwise. Reads the live version's trainedmodel.json only:
    no model, no heavy import."""
    from risk_assessment.core.common import (
        LIVE_MANIFEST,
        MODEL_META,
        MODEL_SKOPS,
        SchemaChanged,
        read_json,
    )

    from risk_assessment.core.columns import check_model_schema

    live = config["prod_deployment_path"] / LIVE_MANIFEST.parent
    if not live.is_symlink() or not (live / MODEL_SKOPS).exists():  # none, or a legacy one
        return None
    meta = read_json(live / MODEL_META, {}) or {}
    try:
        check_model_schema(meta, config["schema"], f"deployed model {live.resolve().name}")
    except SchemaChanged as exc:
        return exc.fact
    return None


def legacy_version_is_live(prod: Path) -> bool:
    """Whether the live version was deployed by the code before signed manifests (an
    unsigned pickle). It is never loaded (a pickle can run code): it counts as no
    deployment, so the next batch trains its successor. Logs a warning when it is."""
    from risk_assessment.deployment.versions import CURRENT, current_version, is_legacy_version

    if not is_legacy_version((prod / CURRENT).resolve()):
        return False
    log.warning(
        "%s was deployed by an older version (an unsigned pickle): not loaded; "
        "the next model trained replaces it",
        current_version(prod),
    )
    return True


def judge(config: dict[str, Any], frame, model, manifest) -> Verdict:
    """The verdict on a batch against the live model (model None: no deployment yet).

    Labelled rows are judged for model drift (model_drift.rule), every row for data drift
    against the model's training profile, unlabelled rows get a label-free estimate.
    """
    from risk_assessment.monitoring.statistics import retrain_decision

    target = config["schema"].target.column
    labelled = frame[frame[target].notna()].astype({target: "int64"})
    findings = [] if model is None else batch_findings(config, frame, labelled, model, manifest)
    fields: dict[str, Any] = {"verdict": {}}
    for finding in findings:
        fields.update(finding.fields)
        fields["verdict"].update(finding.numbers)
    retrain, why = retrain_decision(
        fields.get("model_drift"),
        fields.get("data_drift"),
        model is not None,
        config["data_drift"]["triggers_retraining"],
    )
    if model is not None and labelled[target].nunique() < 2:
        retrain, why = False, "nothing labelled with both outcomes to learn from"
    reasons = [f.reason for f in findings] + [f"{'retrain' if retrain else 'no retraining'}: {why}"]
    log.info("verdict: %s", "; ".join(reasons))
    return Verdict(fields, retrain, "; ".join(reasons))


def batch_findings(config: dict[str, Any], frame, labelled, model, manifest) -> list[Finding]:
    """The tests of a batch against the live model: model drift on the labelled rows, the
    label-free estimate on the unlabelled ones, data drift on all (those that apply)."""
    from risk_assessment.deployment.versions import deployed_f1s
    from risk_assessment.modelling import scoring

    past = deployed_f1s(config["prod_deployment_path"])
    label = scoring.label_verdict(labelled, model, config, manifest["f1"], past)
    findings = [
        Finding(
            {**label["fields"], "model_drift": label["drift"]},
            label["verdict"],
            f"{len(labelled)} labelled rows: {label['reason']}",
        )
    ]
    schema = config["schema"]
    unlabelled = frame[frame[schema.target.column].isna()]
    estimate = scoring.unlabelled_estimate(unlabelled, model, schema)
    if estimate:
        findings.append(
            Finding(
                {"estimated_f1": estimate["f1"]},
                {"estimate": estimate},
                f"{estimate['n']} unlabelled rows: label-free F1 estimate {estimate['f1']:.3f} "
                f"[{estimate['f1_low']:.3f}, {estimate['f1_high']:.3f}]",
            )
        )
    data = data_verdict(config, frame, manifest)
    return findings + ([data] if data else [])


def data_verdict(config: dict[str, Any], frame, manifest) -> Finding | None:
    """Each feature of the batch against the model's training data, by type (numbers:
    chi-square on the training deciles; categories and booleans: their level counts, new
    levels named; optional features: the share missing), Holm across features, PSI
    beside it as a size; a verdict needs model_drift.min_batch_rows rows. A model saved
    before the typed profile existed is judged on its numeric bins as before."""
    from risk_assessment.deployment.versions import read_model_meta

    meta = read_model_meta(manifest["folder"])
    profile, typed = meta.get("profile"), meta.get("typed_profile")
    if not (profile or typed) or frame.empty:
        return None
    judged = len(frame) >= max(config["model_drift"]["min_batch_rows"], 1)
    drift, texts, effect, state = (
        typed_drift(config, typed, frame) if typed else numeric_drift(profile, frame, meta)
    )
    fields = {
        "data_drift": drift.verdict if judged else None,
        "data_drift_share": sum(f.drift for f in drift.features) / max(len(drift.features), 1),
        "data_drift_psi": {f.feature: f.psi for f in drift.features},
        "data_drift_shares": bin_shares(profile or {}, frame),
    }
    numbers = {
        f.feature: {
            "psi": f.psi,
            "p_adjusted": f.p_adjusted,
            "drift": f.drift,
            "cohens_w": effect[f.feature],
        }
        for f in drift.features
    }
    state = state if judged else "not judged (batch too small)"
    reason = f"data drift on {len(frame)} rows: {state} ({'; '.join(texts)})"
    return Finding(fields, {"data": numbers}, reason)


def typed_drift(config: dict[str, Any], typed: dict[str, Any], frame) -> tuple:
    """(drift, texts, effect per feature, state) by feature type (monitoring/typed_drift)."""
    from risk_assessment.monitoring.typed_drift import drift_by_type

    drift = drift_by_type(typed, frame, config["schema"], 0.05)
    state = f"drift in {', '.join(drift.drifted)}" if drift.verdict else "none"
    effect = {f.feature: f.test.effect for f in drift.features}
    return drift, [typed_text(f) for f in drift.features], effect, state


def numeric_drift(profile: dict[str, Any], frame, meta: dict[str, Any]) -> tuple:
    """The same, for a model saved before the typed profile: its numeric deciles only."""
    from risk_assessment.monitoring import statistics as monitoring

    drift = monitoring.data_drift_verdict(profile, frame, 0.05, meta.get("rows"))
    texts = [
        f"{f.feature} PSI {f.psi:.3f}, chi-square p {f.p_adjusted:.3g}" for f in drift.features
    ]
    effect = {f.feature: f.chi_square.effect for f in drift.features}
    return drift, texts, effect, "drift" if drift.verdict else "none"


def typed_text(f) -> str:
    """'<feature's words> PSI 0.142, chi-square p 1.19e-38' for a number (as before, in the
    schema's words as every other feature); the feature's words, its largest level shift
    and new levels for a category or boolean."""
    if f.type in ("integer", "number") and not f.missing:
        return f"{f.label} PSI {f.psi:.3f}, chi-square p {f.p_adjusted:.3g}"
    return f.text()


def bin_shares(profile: dict[str, Any], frame) -> dict[str, list[float]]:
    """Each feature's share of the batch in each of the training profile's bins."""
    from risk_assessment.monitoring import statistics as monitoring

    return {
        f: (
            monitoring.bin_counts(profile[f]["edges"], frame[f], len(profile[f]["shares"]))
            / len(frame)
        ).tolist()
        for f in profile
    }
