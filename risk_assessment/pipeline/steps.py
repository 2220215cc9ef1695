"""The batch's resumable steps (a part of fullprocess.py): new data? then ingested ->
judged -> gated -> deployed -> done. Each takes the batch as the store holds it, does its
work when the batch is at its step (and needs it), commits the next step, and returns the
batch as stored.

Reads   what the steps' scripts read (ingestion, deployment, reporting, apicalls)
Writes  the batches table of output_folder_path/store.db, and what those scripts write
Run     by fullprocess.run_pipeline; a kill at any moment leaves a step the next run resumes
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from risk_assessment.core.common import MODEL_META, RiskError, escape_text, read_json

from risk_assessment.pipeline.judging import judge, load_live
from risk_assessment.sources.scan import database_has_new_rows, scan_input, watermark_key
from risk_assessment.store import records as store

log = logging.getLogger("fullprocess")


def store_of(config: dict[str, Any], db: store.Store | None) -> store.Where:
    """The open store a run passes down, else the configured output folder."""
    return config["output_folder_path"] if db is None else db


def new_inputs(config: dict[str, Any], db: store.Store | None = None) -> list[str]:
    """Names of the new data: input files whose content the store has not seen, and the
    database when it holds rows not read yet. Standard library only (for SQLite); an
    unreachable database is one warning and the files go on."""
    output = store_of(config, db)
    known_sha, known_stamps = store.known_files(output)
    scan = scan_input(
        config["input_folder_path"], known_sha, known_stamps, config["ingestion"]["settle_seconds"]
    )
    for path in scan.settling:
        log.info("%s: modified moments ago, may still be written; left for the next run", path)
    for path, why in scan.unreadable:
        log.warning("%s: cannot read (%s); left for the next run", path, why)
    names = [path.name for path, _ in scan.new]
    settings = config["input_database"]
    if settings["url"]:
        value, boundary = store.read_watermark(output, watermark_key(settings))
        try:
            if database_has_new_rows(settings, value, len(boundary)):
                names.append(f"database:{settings['table'] or 'query'}")
        except RiskError as exc:
            log.warning("%s", exc)
    return names


class Ingested(NamedTuple):
    """What ingest_step stored: the batch to take through (None when no row was new) and
    the names of the files (or database) read."""

    batch: dict[str, Any] | None
    files: list[str]


def ingest_step(config: dict[str, Any], db: store.Store | None = None) -> Ingested:
    """Ingest and commit a batch (step ingested)."""
    from risk_assessment.sources import ingestion

    result = ingestion.run_ingestion(config, db)
    files = [f.entry["name"] for f in result.sources]
    batch = store.pending_batch(store_of(config, db)) if result.batch_id else None
    return Ingested(batch, files)


def judge_step(config: dict[str, Any], batch: dict[str, Any], frame, db=None) -> dict[str, Any]:
    """Judge the batch once against the live model and store the verdict (step judged)."""
    if batch["step"] != "ingested":
        return batch
    model, manifest = load_live(config)
    verdict = judge(config, frame, model, manifest)
    return store.advance_batch(
        store_of(config, db),
        batch["id"],
        "judged",
        verdict=verdict._asdict(),
        deployed_version=manifest and manifest["version"],
    )


def gate_step(config: dict[str, Any], batch: dict[str, Any], db=None) -> dict[str, Any]:
    """When the verdict says retrain: retrain candidates and gate the best against the live
    model (step gated); again when the gated model was replaced since."""
    from risk_assessment.deployment import versions as deployment
    from risk_assessment.pipeline import gating

    if batch["step"] == "gated" and batch["gate"]["deploy"] and gated_model_replaced(config, batch):
        log.warning("the gated model is no longer in %s; retraining", config["output_model_path"])
        batch = store.advance_batch(store_of(config, db), batch["id"], "judged")
    if batch["step"] != "judged" or not batch["verdict"]["retrain"]:
        return batch
    gate = gating.retrain_and_gate(config, batch["id"], load_live(config)[0])
    if not gate["deploy"]:
        folder = gating.keep_refused(config, gate["reason"])
        log.warning("refused the retrained model: %s; kept in %s", gate["reason"], folder)
        deployment.prune(config)  # refused models are kept by retention.keep_refused
    else:
        log.info("gate: %s", gate["reason"])
    return store.advance_batch(store_of(config, db), batch["id"], "gated", gate=gate)


def gated_model_replaced(config: dict[str, Any], batch: dict[str, Any]) -> bool:
    """Whether the model files are no longer the ones the gate passed."""
    meta = read_json(config["output_model_path"] / MODEL_META, {}) or {}
    return meta.get("model_sha256") != batch["gate"]["model_sha256"]


def deploy_step(config: dict[str, Any], batch: dict[str, Any], db=None) -> dict[str, Any]:
    """Deploy the model the gate passed (step deployed). Deploying it again after a crash
    reuses the version it already went live as."""
    from risk_assessment.deployment import versions as deployment

    if batch["step"] != "gated" or not batch["gate"]["deploy"]:
        return batch
    version = deployment.deploy(config)
    deployment.prune(config)
    return store.advance_batch(store_of(config, db), batch["id"], "deployed", new_version=version)


def report_step(config: dict[str, Any], run: dict[str, Any], batch: dict[str, Any]) -> str | None:
    """Refresh the risk list and the report (saying why, from the run in progress), and
    the API answers after a deployment. Returns the error of a failure, else None.

    A failure here is recorded in run.error (exit 1) but the batch is done: what went
    live stays live, and the next batch refreshes the reports again.
    """
    from risk_assessment.reports import reporting

    try:
        if load_live(config)[0] is not None:
            reporting.run_reporting(config, run)
    except (RiskError, OSError) as exc:
        done = f"deploying {batch['new_version']}" if batch.get("new_version") else "judging"
        error = escape_text(f"after {done}: {exc}")
        log.error("%s", error)
        return error
    if batch.get("new_version"):
        call_api(config)
    return None


def call_api(config: dict[str, Any]) -> None:
    """Save the API's answers when a server at api.base_url serves this deployment
    (apicalls checks that before saving anything)."""
    from risk_assessment.client import apicalls

    try:
        apicalls.run_apicalls(config)
    except apicalls.OtherServerError as exc:
        log.warning("%s", exc)
    except RiskError as exc:
        log.info("apicalls skipped or failed: %s", exc)


def done_step(config: dict[str, Any], batch: dict[str, Any], db=None) -> dict[str, Any]:
    """The batch is finished (step done); history older than retention is pruned."""
    output = store_of(config, db)
    batch = store.advance_batch(output, batch["id"], "done")
    store.prune_history(output, config["retention"]["history_days"])
    return batch
