"""Full process, the cron job: new data? ingest; drift? retrain, rescore, gate, redeploy, report.

Reads   input_folder_path (and input_database), the store, the deployed model and its scores
Writes  what ingestion, training, scoring, deployment and reporting write, plus
        output_folder_path/store.db         each batch's steps and verdict; run history
        output_folder_path/fullprocess.log  rotating log (also on stderr)
        output_model_path/refused/<time>/   a retrained model the gate refused, with why
Run     python fullprocess.py [--config config.json] [--dry-run] [--history [N]]

A run is a sequence of recorded steps. Ingestion commits a batch (step "ingested"); then
the batch is judged for drift ("judged", verdict stored once), retrained and gated
("gated"), deployed ("deployed"), and reported ("done"). A run that fails or is killed
after any step leaves the batch at that step, and the next tick resumes it from there:
a verdict is never lost, and a batch is never judged twice.

The "nothing new" path runs 144 times a day, so this module imports only the standard
library, common.py and store.py at the top; the pipeline's modules (pandas, scikit-learn,
matplotlib) are imported only once there is work to do.
"""

from __future__ import annotations

import logging
import logging.handlers
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from common import (
    MODEL_FILE,
    MODEL_META,
    MODEL_SKOPS,
    SCORE_FILE,
    SCORES_JSON,
    TARGET,
    ModelError,
    RiskError,
    SafeFormatter,
    cli_parser,
    escape_text,
    first_line,
    format_number,
    format_table,
    now_iso,
    read_json,
    run_cli,
    setup_logging,
    write_json,
)

import notify
import store
from locking import WriterLock, remove_stale_temps
from settings import load_config
from sources import database_has_new_rows, scan_input, watermark_key
from store import Run

log = logging.getLogger("fullprocess")
TRACE = logging.getLogger("fullprocess.trace")  # tracebacks: to the log file only
TRACE.propagate = False


class RunError(RiskError):
    """An unexpected failure inside a run: recorded as an error, traceback in the log."""


# ---- history and logging -------------------------------------------------------------------


def format_history(rows: list[dict[str, Any]]) -> str:
    """The runs as a plain-text table; the reason (the verdict with its numbers) is the
    last column and is never cut."""
    cols = [
        "id",
        "started_at",
        "ticks",
        "new_files",
        "batch_f1",
        "deployed_f1",
        "decision",
        "new_version",
        "reason",
    ]
    return format_table([history_cells(r, cols) for r in rows], cols)


def history_cells(row: dict[str, Any], columns: list[str]) -> dict[str, str]:
    """A history row as table text: the reason whole, every other value cut to 60."""
    cells = {c: format_number(row.get(c), missing="") for c in columns}
    return {c: v if c == "reason" else v[:60] for c, v in cells.items()}


def setup_file_logging(config: dict[str, Any]) -> None:
    """Log to stderr and to a rotating file in the output folder (tracebacks: file only)."""
    setup_logging()
    settings = config["logging"]
    path = config["output_folder_path"] / settings["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=int(settings["max_bytes"]), backupCount=int(settings["backups"])
    )
    handler.setFormatter(SafeFormatter(logging.getLogger().handlers[0].formatter._fmt))
    logging.getLogger().addHandler(handler)
    TRACE.handlers = [handler]


# ---- steps ---------------------------------------------------------------------------------


def new_data(config: dict[str, Any]) -> list[str]:
    """Names of the new data: input files whose content the store has not seen, and the
    database when it holds rows not read yet. Standard library only (for SQLite); an
    unreachable database is one warning and the files go on."""
    output = config["output_folder_path"]
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


def ingest_step(config: dict[str, Any], run: Run) -> dict[str, Any] | None:
    """Ingest and commit a batch; returns it (None when nothing new was stored)."""
    import ingestion

    result = ingestion.run_ingestion(config)
    run.new_files = [f.entry["name"] for f in result.sources]
    return store.pending_batch(config["output_folder_path"]) if result.batch_id else None


def batch_frame(config: dict[str, Any], batch_id: int):
    """A batch's new observations as a frame (exited <NA> when unlabelled)."""
    from common import COLUMNS

    import pandas as pd

    rows = store.batch_rows(config["output_folder_path"], batch_id)
    frame = pd.DataFrame([r[1:] for r in rows], columns=COLUMNS)
    frame[TARGET] = frame[TARGET].astype("Int64")
    return frame


def load_live(config: dict[str, Any]):
    """(model, manifest) of the live deployment; (None, None) before the first one.

    A deployment that exists but fails verification raises: it must be repaired, never
    silently replaced. A version deployed by the code before signed manifests (a pickle)
    is not loaded either: it is treated as none, so the next batch trains its successor.
    """
    from deployment import CURRENT, current_version, is_legacy_version, load_deployed

    prod = config["prod_deployment_path"]
    try:
        return load_deployed(prod, config["deployment"]["signing_key_path"])
    except ModelError:
        live = current_version(prod)
        if live and is_legacy_version((prod / CURRENT).resolve()):
            log.warning(
                "%s was deployed by an older version (an unsigned pickle): not loaded; "
                "the next model trained replaces it",
                live,
            )
            return None, None
        if live:
            raise
        return None, None


def judge(config: dict[str, Any], frame, model, manifest) -> dict[str, Any]:
    """The verdict on a batch against the live model: run fields, retrain or not, why.

    Labelled rows are judged for model drift (model_drift.rule), every row for data drift
    against the model's training profile, unlabelled rows get a label-free estimate.
    """
    import scoring
    from deployment import deployed_f1s
    from monitoring import retrain_decision

    labelled = frame[frame[TARGET].notna()].astype({TARGET: "int64"})
    unlabelled = frame[frame[TARGET].isna()]
    fields: dict[str, Any] = {"verdict": {}}
    reasons = []
    if model is not None:
        past = deployed_f1s(config["prod_deployment_path"])
        label = scoring.label_verdict(labelled, model, config, manifest["f1"], past)
        fields.update(label["fields"], model_drift=label["drift"])
        fields["verdict"].update(label["verdict"])
        reasons.append(f"{len(labelled)} labelled rows: {label['reason']}")
        estimate = scoring.unlabelled_estimate(unlabelled, model)
        if estimate:
            fields.update(estimated_f1=estimate["f1"])
            fields["verdict"]["estimate"] = estimate
            reasons.append(
                f"{estimate['n']} unlabelled rows: label-free F1 estimate {estimate['f1']:.3f} "
                f"[{estimate['f1_low']:.3f}, {estimate['f1_high']:.3f}]"
            )
        data = data_verdict(config, frame, manifest)
        if data:
            fields.update(data["fields"])
            fields["verdict"]["data"] = data["verdict"]
            reasons.append(data["reason"])
    retrain, why = retrain_decision(
        fields.get("model_drift"),
        fields.get("data_drift"),
        model is not None,
        config["data_drift"]["triggers_retraining"],
    )
    if model is not None and labelled[TARGET].nunique() < 2:
        retrain, why = False, "nothing labelled with both outcomes to learn from"
    reasons.append(f"{'retrain' if retrain else 'no retraining'}: {why}")
    log.info("verdict: %s", "; ".join(reasons))
    return {"fields": fields, "retrain": retrain, "reason": "; ".join(reasons)}


def data_verdict(config: dict[str, Any], frame, manifest) -> dict[str, Any] | None:
    """Each feature of the batch against the model's training bins: chi-square (Holm) for
    the verdict, PSI beside it; a verdict needs model_drift.min_batch_rows rows."""
    import monitoring

    meta = read_json(Path(manifest["folder"]) / MODEL_META, {}) or {}
    profile = meta.get("profile")
    if not profile or frame.empty:
        return None
    drift = monitoring.data_drift_verdict(profile, frame, 0.05, meta.get("rows"))
    judged = len(frame) >= max(config["model_drift"]["min_batch_rows"], 1)
    shares = {
        f: (
            monitoring.bin_counts(profile[f]["edges"], frame[f], len(profile[f]["shares"]))
            / len(frame)
        ).tolist()
        for f in profile
    }
    fields = {
        "data_drift": drift.verdict if judged else None,
        "data_drift_share": sum(f.drift for f in drift.features) / len(drift.features),
        "data_drift_psi": {f.feature: f.psi for f in drift.features},
        "data_drift_shares": shares,
    }
    texts = [
        f"{f.feature} PSI {f.psi:.3f}, chi-square p {f.p_adjusted:.3g}" for f in drift.features
    ]
    verdict = {
        f.feature: {
            "psi": f.psi,
            "p_adjusted": f.p_adjusted,
            "drift": f.drift,
            "cohens_w": f.chi_square.effect,
        }
        for f in drift.features
    }
    state = ("drift" if drift.verdict else "none") if judged else "not judged (batch too small)"
    return {
        "fields": fields,
        "verdict": verdict,
        "reason": f"data drift on {len(frame)} rows: {state} ({'; '.join(texts)})",
    }


def judge_step(config: dict[str, Any], run: Run, batch: dict[str, Any]) -> dict[str, Any]:
    """Judge the batch once and store the verdict (step judged)."""
    model, manifest = load_live(config)
    frame = batch_frame(config, batch["id"])
    verdict = judge(config, frame, model, manifest)
    return store.advance_batch(
        config["output_folder_path"],
        batch["id"],
        "judged",
        verdict=verdict,
        deployed_version=manifest and manifest["version"],
    )


def keep_refused(config: dict[str, Any], reason: str) -> Path:
    """Copy the refused model and its scores aside, with the reason, for inspection."""
    folder = config["output_model_path"] / "refused" / now_iso().replace(":", "")
    folder.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, MODEL_SKOPS, MODEL_META, SCORE_FILE, SCORES_JSON):
        shutil.copy2(config["output_model_path"] / name, folder / name)
    write_json(folder / "refused.json", {"reason": reason, "time": now_iso()})
    return folder


def gate_step(config: dict[str, Any], run: Run, batch: dict[str, Any]) -> dict[str, Any]:
    """Retrain candidates and gate the best against the live model (step gated)."""
    import deployment

    model, _ = load_live(config)
    gate = deployment.gate(config, batch["id"], model)
    if not gate["deploy"]:
        folder = keep_refused(config, gate["reason"])
        log.warning("refused the retrained model: %s; kept in %s", gate["reason"], folder)
        deployment.prune(config)  # refused models are kept by retention.keep_refused
    else:
        log.info("gate: %s", gate["reason"])
    return store.advance_batch(config["output_folder_path"], batch["id"], "gated", gate=gate)


def deploy_step(config: dict[str, Any], run: Run, batch: dict[str, Any]) -> dict[str, Any]:
    """Deploy the gated model (step deployed). Deploying it again after a crash reuses
    the version it already went live as."""
    import deployment

    gate = batch["gate"]
    meta = read_json(config["output_model_path"] / MODEL_META, {}) or {}
    if meta.get("model_sha256") != gate["model_sha256"]:  # the files were replaced since
        log.warning("the gated model is no longer in %s; retraining", config["output_model_path"])
        return store.advance_batch(config["output_folder_path"], batch["id"], "judged")
    version = deployment.deploy(config)
    deployment.prune(config)
    return store.advance_batch(
        config["output_folder_path"], batch["id"], "deployed", new_version=version
    )


def report_step(config: dict[str, Any], run: Run, batch: dict[str, Any]) -> dict[str, Any]:
    """Refresh the risk list and the report, and the API answers after a deployment.

    A failure here is recorded in run.error (exit 1) but the batch is done: what went
    live stays live, and the next batch refreshes the reports again.
    """
    import reporting

    try:
        if load_live(config)[0] is not None:
            reporting.run_reporting(config, asdict(run))  # the report says why
    except (RiskError, OSError) as exc:
        done = f"deploying {batch['new_version']}" if batch.get("new_version") else "judging"
        run.error = escape_text(f"after {done}: {exc}")
        log.error("%s", run.error)
    if batch.get("new_version") and not run.error:
        call_api(config)
    return store.advance_batch(config["output_folder_path"], batch["id"], "done")


def call_api(config: dict[str, Any]) -> None:
    """Save the API's answers when a server at api.base_url serves this deployment
    (apicalls checks that before saving anything)."""
    import apicalls

    try:
        apicalls.run_apicalls(config)
    except apicalls.OtherServerError as exc:
        log.warning("%s", exc)
    except RiskError as exc:
        log.info("apicalls skipped or failed: %s", exc)


def tell(config: dict[str, Any], run: Run) -> None:
    """Notifications (notify.py; off by default; a failure to send never fails the run)."""
    if notify.enabled(settings := config["notify"]):
        history = store.read_history(config["output_folder_path"], settings["failed_ticks"] + 2)
        notify.notify_run(config, asdict(run), history)


def next_step(batch: dict[str, Any]):
    """The step function that takes a batch from where it stands."""
    if batch["step"] == "ingested":
        return judge_step
    if batch["step"] == "judged":
        return gate_step if batch["verdict"]["retrain"] else report_step
    if batch["step"] == "gated":
        return deploy_step if batch["gate"]["deploy"] else report_step
    return report_step


def resume(config: dict[str, Any], run: Run, batch: dict[str, Any]) -> None:
    """Take a batch through its remaining steps, recording each; fill the run from it."""
    run.batch_id = batch["id"]
    frame_rows = store.batch_rows(config["output_folder_path"], batch["id"])
    run.new_rows = len(frame_rows)
    run.unlabelled_rows = sum(1 for r in frame_rows if r[-1] is None)
    if not run.new_files:
        run.new_files = [
            e["name"] for e in store.batch_sources(config["output_folder_path"], batch["id"])
        ]
    while batch["step"] != "done":
        batch = next_step(batch)(config, run, batch)
        run.step = batch["step"]
        fill_run(run, batch)
    store.prune_history(config["output_folder_path"], config["retention"]["history_days"])


def fill_run(run: Run, batch: dict[str, Any]) -> None:
    """Copy what the batch holds (verdict, gate, version) into the run's record."""
    verdict = batch.get("verdict")
    if verdict:
        for name, value in verdict["fields"].items():
            setattr(run, name, value)
        run.reason = verdict["reason"]
        run.decision = "retrain" if verdict["retrain"] else "no drift"
    gate = batch.get("gate")
    run.gate = gate
    if gate:
        run.new_f1, run.reason = gate["new_f1"], f"{verdict['reason']}; {gate['reason']}"
        run.decision = "deployed" if gate["deploy"] else "refused"
    run.new_version = batch.get("new_version")
    if batch.get("deployed_version"):
        run.deployed_version = batch["deployed_version"]


# ---- a run ---------------------------------------------------------------------------------


def tick(config: dict[str, Any], run: Run) -> None:
    """Finish an interrupted batch, or look for new data and take it through."""
    output = config["output_folder_path"]
    batch = store.pending_batch(output)
    if batch is not None:
        log.info("resuming batch %d from step %s", batch["id"], batch["step"])
    else:
        names = new_data(config)
        if not names:
            run.reason = "no new data"
            log.info(
                "no new data in %s%s",
                config["input_folder_path"],
                " or the database" if config["input_database"]["url"] else "",
            )
            return
        log.info("new data: %s", ", ".join(escape_text(n, 100) for n in names))
        batch = ingest_step(config, run)
        if batch is None:
            run.reason = "no new rows (files rejected or rows ingested before)"
            return
    note_live(config, run)
    resume(config, run, batch)


def note_live(config: dict[str, Any], run: Run) -> None:
    """Record which version is live as the run starts (from its manifest, no model load)."""
    from deployment import CURRENT, MANIFEST, current_version

    run.deployed_version = current_version(config["prod_deployment_path"])
    manifest = read_json(config["prod_deployment_path"] / CURRENT / MANIFEST, None) or {}
    run.deployed_f1 = manifest.get("f1")


def dry_run(config: dict[str, Any], run: Run) -> None:
    """Say what a run would do, storing nothing."""
    import ingestion

    batch = store.pending_batch(config["output_folder_path"])
    if batch is not None:
        run.decision, run.reason = "would resume", f"batch {batch['id']} at step {batch['step']}"
        return
    result = ingestion.ingest_configured(config)
    run.new_files = [f.entry["name"] for f in result.sources]
    frame = result.new_rows
    run.new_rows = len(frame)
    if frame.empty:
        run.reason = "no new data" if not result.sources else "no new rows"
        return
    model, manifest = load_live(config)
    verdict = judge(config, frame, model, manifest)
    for name, value in verdict["fields"].items():
        setattr(run, name, value)
    run.decision = "would retrain" if verdict["retrain"] else "no drift"
    run.reason = verdict["reason"]


MAX_BATCHES_PER_TICK = 10  # bounds one tick when files keep arriving


def process(config: dict[str, Any], dry: bool = False) -> Run:
    """One tick (the caller holds the lock): finish every interrupted batch, then take
    new data through; each batch is a run in the history. Returns the last run.

    An idle tick is recorded only when nothing else happened.
    """
    if dry:
        return one_run(config, dry_run, dry=True)
    for path in remove_stale_temps(config):
        log.info("removed %s, left by a run that was killed while writing it", path)
    last = None
    for _ in range(MAX_BATCHES_PER_TICK):
        run = one_run(config, tick, record_idle=last is None)
        if run.batch_id is None:
            return last or run
        last = run
    return last


def one_run(config: dict[str, Any], work, dry: bool = False, record_idle: bool = True) -> Run:
    """A run: do the work, record it, log the decision.

    Expected failures are recorded and raised again (one line, exit 1); an unexpected
    one is recorded as `error` with its one-line summary, its traceback goes to the log
    file, and it is raised as a RunError.
    """
    start = time.perf_counter()
    run = Run(dry_run=dry)
    try:
        work(config, run)
    except (RiskError, OSError) as exc:
        run.decision, run.error = "error", escape_text(str(exc))
        raise
    except Exception as exc:
        run.decision, run.error = "error", f"{type(exc).__name__}: {first_line(exc)}"
        TRACE.error("unexpected error in run", exc_info=True)
        raise RunError(f"unexpected error: {run.error} (traceback in the log file)") from None
    finally:
        run.ended_at, run.seconds = now_iso(), round(time.perf_counter() - start, 3)
        if not dry and (record_idle or not store.is_idle(run)):
            store.record_run(config["output_folder_path"], run)
            tell(config, run)
    if run.batch_id is not None or record_idle or dry:
        log.info(
            "%s%s: %s%s",
            "dry run: " if dry else "",
            run.decision,
            run.reason,
            f" (now {run.new_version})" if run.new_version else "",
        )
    return run


def main() -> int:
    """Parse arguments, take the lock, run once."""
    parser = cli_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would happen, change nothing"
    )
    parser.add_argument(
        "--history",
        nargs="?",
        const=20,
        type=int,
        metavar="N",
        help="print the last N runs (default 20) and exit",
    )
    args = parser.parse_args()
    config = load_config(args.config)
    if args.history is not None:
        print(format_history(store.read_history(config["output_folder_path"], args.history)))
        return 0
    if not args.dry_run:
        setup_file_logging(config)
    lock = WriterLock(config["output_folder_path"], "fullprocess.py")
    if not lock.acquire(0):
        log.info("another run holds the lock (%s); exiting", lock.previous)
        return 0
    if lock.previous:
        log.warning("took over a stale lock left by a run that did not finish (%s)", lock.previous)
    try:
        run = process(config, args.dry_run)
    finally:
        lock.release()
    return 1 if run.error else 0


if __name__ == "__main__":
    run_cli(main, "fullprocess")
