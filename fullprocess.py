"""Full process, the cron job: new data? ingest; drift? retrain, rescore, gate, redeploy, report.

Reads   input_folder_path, the ingestion record, the deployed model and its scores
Writes  what ingestion, training, scoring, deployment and reporting write, plus
        output_folder_path/runs.db          SQLite history of every run
        output_folder_path/fullprocess.log  rotating log (also on stderr)
        output_model_path/refused/<time>/   a retrained model the gate refused, with why
Run     python fullprocess.py [--config config.json] [--dry-run] [--history [N]]

The "nothing new" path runs 144 times a day, so this module imports only the standard
library and common.py at the top; the pipeline's modules (pandas, scikit-learn,
matplotlib) are imported by run_pipeline() only once there is new data.
"""

from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import os
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common import (
    FEATURES,
    MODEL_FILE,
    MODEL_META,
    SCORE_FILE,
    SCORES_JSON,
    ModelError,
    RiskError,
    cli_parser,
    database_has_new_rows,
    database_watermark,
    find_new_files,
    format_table,
    load_config,
    load_ingestion_record,
    now_iso,
    read_json,
    run_cli,
    setup_logging,
    write_json,
)

log = logging.getLogger("fullprocess")

HISTORY_DB = "runs.db"
LOCK_FILE = ".fullprocess.lock"
# Columns holding text; record_run stores every other value as JSON.
TEXT_COLUMNS = {
    "started_at",
    "ended_at",
    "deployed_version",
    "drift_rule",
    "decision",
    "reason",
    "new_version",
    "error",
}
HISTORY_COLUMNS = [
    "started_at",
    "ended_at",
    "seconds",
    "dry_run",
    "new_files",
    "new_rows",
    "deployed_version",
    "deployed_f1",
    "batch_f1",
    "batch_f1_low",
    "batch_f1_high",
    "drift_rule",
    "drift_threshold",
    "model_drift",
    "data_drift",
    "data_drift_share",
    "data_drift_psi",
    "decision",
    "reason",
    "new_f1",
    "new_version",
    "error",
]


@dataclass
class Run:
    """What one run saw and decided; one row of the history."""

    started_at: str = field(default_factory=now_iso)
    dry_run: bool = False
    new_files: list[str] = field(default_factory=list)
    new_rows: int = 0
    deployed_version: str | None = None
    deployed_f1: float | None = None
    batch_f1: float | None = None
    batch_f1_low: float | None = None
    batch_f1_high: float | None = None
    drift_rule: str | None = None
    drift_threshold: float | None = None
    model_drift: bool | None = None
    data_drift: bool | None = None
    data_drift_share: float | None = None
    data_drift_psi: dict[str, float] | None = None
    decision: str = "none"
    reason: str = ""
    new_f1: float | None = None
    new_version: str | None = None
    error: str | None = None


# ---- decisions: pure functions ------------------------------------------------------------


def model_drift_decision(
    batch_rows: int,
    batch_f1: float,
    interval: tuple[float, float],
    threshold: float,
    settings: dict[str, Any],
    positives: int | None = None,
) -> tuple[bool | None, str]:
    """(drift?, why). None when the batch cannot say: too small, or without any exit."""
    if batch_rows < settings["min_batch_rows"]:
        return None, (
            f"batch of {batch_rows} rows is below model_drift.min_batch_rows "
            f"({settings['min_batch_rows']}): too noisy to call drift"
        )
    if positives == 0:
        return None, "batch has no exits: F1 is undefined, drift not judged"
    low, high = interval
    if settings["require_significance"]:
        drift = high < threshold
        how = f"interval [{low:.4f}, {high:.4f}] {'below' if drift else 'reaches'}"
    else:
        drift = batch_f1 < threshold
        how = f"F1 {batch_f1:.4f} {'below' if drift else 'not below'}"
    return drift, f"batch {how} threshold {threshold:.4f} ({settings['rule']} rule)"


def retrain_decision(
    model_drift: bool | None,
    data_drift: bool | None,
    has_deployment: bool,
    data_drift_retrains: bool,
) -> tuple[bool, str]:
    """(retrain?, why) from the drift verdicts."""
    if not has_deployment:
        return True, "no deployed model yet"
    if model_drift:
        return True, "model drift"
    if data_drift and data_drift_retrains:
        return True, "data drift (data_drift.triggers_retraining)"
    return False, "no model drift" + (" (data drift reported only)" if data_drift else "")


def gate_decision(new_f1: float, deployed_f1_now: float | None, force: bool) -> tuple[bool, str]:
    """(deploy?, why): the new model must be no worse on the same evaluation data."""
    if deployed_f1_now is None:
        return True, "first deployment"
    if new_f1 >= deployed_f1_now:
        return True, f"new F1 {new_f1:.4f} >= deployed {deployed_f1_now:.4f} on the test data"
    if force:
        return True, f"forced (deployment.force) despite F1 {new_f1:.4f} < {deployed_f1_now:.4f}"
    return False, f"new F1 {new_f1:.4f} < deployed {deployed_f1_now:.4f} on the test data"


# ---- history, lock, logging ----------------------------------------------------------------


def open_history(folder: Path) -> sqlite3.Connection:
    """The run-history database, created on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / HISTORY_DB, timeout=30)
    columns = ", ".join(f"{c} TEXT" for c in HISTORY_COLUMNS)
    db.execute(f"CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, {columns})")
    return db


def record_run(folder: Path, run: Run, seconds: float) -> None:
    """Append one run to the history (one transaction)."""
    row = {**asdict(run), "ended_at": now_iso(), "seconds": round(seconds, 3)}
    values = [
        v if v is None or isinstance(v, str) else json.dumps(v)
        for v in (row[c] for c in HISTORY_COLUMNS)
    ]
    with open_history(folder) as db:
        db.execute(
            f"INSERT INTO runs ({', '.join(HISTORY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})",
            values,
        )
    db.close()


def read_history(folder: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The last runs, newest first, as dicts."""
    if not (folder / HISTORY_DB).exists():
        return []
    db = open_history(folder)
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]
    db.close()
    for row in rows:  # record_run stores text as is and every other value as JSON
        for key, value in row.items():
            if key not in TEXT_COLUMNS and isinstance(value, str):
                row[key] = json.loads(value)
    return rows


def cell(value: Any) -> str:
    """A history value as table text: numbers to 4 decimals, lists without brackets."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def format_history(rows: list[dict[str, Any]]) -> str:
    """The runs as a plain-text table."""
    cols = [
        "id",
        "started_at",
        "seconds",
        "new_files",
        "batch_f1",
        "deployed_f1",
        "decision",
        "new_version",
        "reason",
    ]
    return format_table([{c: cell(r[c])[:60] for c in cols} for r in rows], cols)


class RunLock:
    """An exclusive, non-blocking flock on a file in the output folder.

    The kernel drops the lock when its holder dies, so a lock left by a killed run is
    stale by construction: the file stays, the lock does not, and the next run takes it.
    """

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOCK_FILE
        self.fh = None

    def acquire(self) -> bool:
        """True if this process now holds the lock; False if another live run does."""
        fh = open(self.path, "a+")  # noqa: SIM115 (held open for the run's lifetime)
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            log.info("another run holds the lock (%s); exiting", fh.read().strip() or "?")
            fh.close()
            return False
        fh.seek(0)
        previous = fh.read().strip()
        if previous:
            log.warning("took over a stale lock left by a run that did not finish (%s)", previous)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {now_iso()}\n")
        fh.flush()
        self.fh = fh
        return True

    def release(self) -> None:
        """Empty the lock file (a clean exit) and unlock."""
        if self.fh:
            self.fh.seek(0)
            self.fh.truncate()
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None


def setup_file_logging(config: dict[str, Any]) -> None:
    """Log to stderr and to a rotating file in the output folder."""
    setup_logging()
    settings = config["logging"]
    path = config["output_folder_path"] / settings["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=int(settings["max_bytes"]), backupCount=int(settings["backups"])
    )
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    logging.getLogger().addHandler(handler)


# ---- the pipeline --------------------------------------------------------------------------


def new_data(config: dict[str, Any]) -> list[str]:
    """Names of the new data: input files whose content the ingestion record has not
    seen, and the database when it holds rows above the watermark. Standard library only
    (for SQLite); an unreachable database is one warning and the files go on."""
    record = load_ingestion_record(config["output_folder_path"])
    names = [p.name for p in find_new_files(config["input_folder_path"], record)]
    settings = config["input_database"]
    if settings["url"]:
        try:
            if database_has_new_rows(settings, database_watermark(record, settings)):
                names.append(f"database:{settings['table'] or 'query'}")
        except RiskError as exc:
            log.warning("%s", exc)
    return names


def check_drift(config: dict[str, Any], run: Run, batch, model, manifest, profile) -> None:
    """Score the deployed model on the batch; fill run's model- and data-drift fields."""
    import diagnostics
    import scoring
    from deployment import deployed_f1s

    settings = config["model_drift"]
    prod = config["prod_deployment_path"]
    scores = scoring.score_model(model, batch)
    pred = model.predict(batch[FEATURES])
    interval = scoring.f1_interval(batch["exited"], pred, settings["confidence"])
    threshold = scoring.drift_threshold(manifest["f1"], deployed_f1s(prod), settings["rule"])
    run.batch_f1, (run.batch_f1_low, run.batch_f1_high) = scores["f1"], interval
    run.drift_rule, run.drift_threshold = settings["rule"], threshold
    run.model_drift, why = model_drift_decision(
        len(batch), scores["f1"], interval, threshold, settings, scores["positives"]
    )
    log.info(
        "model drift: %s; batch F1 %.4f [%.4f, %.4f] on %d rows vs deployed %.4f: %s",
        run.model_drift,
        scores["f1"],
        *interval,
        len(batch),
        manifest["f1"],
        why,
    )
    run.reason = why
    if profile:  # PSI is reported for every batch; a verdict only for a large enough one
        drift = diagnostics.data_drift(profile, batch, config["data_drift"]["max_drifted_share"])
        big_enough = len(batch) >= settings["min_batch_rows"]
        run.data_drift = drift["drift"] if big_enough else None
        run.data_drift_share = drift["drifted_share"]
        run.data_drift_psi = {c: f["psi"] for c, f in drift["features"].items()}
        log.info(
            "data drift: %s; PSI %s",
            run.data_drift if big_enough else "not judged (batch too small)",
            ", ".join(f"{c} {f['psi']:.3f} ({f['band']})" for c, f in drift["features"].items()),
        )


def keep_refused(config: dict[str, Any], reason: str) -> Path:
    """Copy the refused model and its scores aside, with the reason, for inspection."""
    folder = config["output_model_path"] / "refused" / now_iso().replace(":", "")
    folder.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, MODEL_META, SCORE_FILE, SCORES_JSON):
        shutil.copy2(config["output_model_path"] / name, folder / name)
    write_json(folder / "refused.json", {"reason": reason, "time": now_iso()})
    return folder


def retrain_and_gate(config: dict[str, Any], run: Run, deployed_model) -> bool:
    """Retrain, rescore, and deploy if no worse than the deployed model. True if deployed."""
    import deployment
    import ingestion
    import scoring
    import training

    training.run_training(config)
    new_scores = scoring.run_scoring(config)
    run.new_f1 = new_scores["f1"]
    deployed_now = None
    if deployed_model is not None:
        test = ingestion.load_dataset(scoring.test_data_file(config["test_data_path"]))
        deployed_now = scoring.score_model(deployed_model, test)["f1"]
    ok, why = gate_decision(new_scores["f1"], deployed_now, config["deployment"]["force"])
    run.reason = f"{run.reason}; {why}" if run.reason else why
    if not ok:
        folder = keep_refused(config, why)
        run.decision = "refused"
        log.warning("refused the retrained model: %s; kept in %s", why, folder)
        return False
    run.new_version = deployment.deploy(config)
    run.decision = "deployed"
    return True


def after_deployment(config: dict[str, Any], run: Run) -> None:
    """Refresh the dependency table, the report and risk list, and the API answers.

    The new version is live by now: a failure here is recorded in run.error (the run
    exits 1) but does not change the decision.
    """
    import apicalls
    import diagnostics
    import reporting
    from deployment import CURRENT, MANIFEST

    try:
        diagnostics.dependencies_for(config)
        reporting.run_reporting(config)
    except (RiskError, OSError) as exc:
        run.error = f"after deploying {run.new_version}: {exc}"
        log.error("%s", run.error)
        return
    try:
        apicalls.run_apicalls(config)
    except RiskError as exc:
        log.info("apicalls skipped or failed: %s", exc)
        return
    served = apicalls.served_model(config)
    live = read_json(config["prod_deployment_path"] / CURRENT / MANIFEST, {}) or {}
    if served.get("model_sha256") != live.get("model_sha256"):
        log.warning(
            "the API at %s serves model %s, not the new %s: another deployment?",
            config["api"]["base_url"],
            served.get("model_version"),
            run.new_version,
        )


def run_pipeline(config: dict[str, Any], run: Run) -> None:
    """Ingest the new files, check drift, and retrain/deploy when needed (fills run)."""
    # imported here, not at the top: the cron tick that finds nothing new must stay light
    import ingestion
    from deployment import current_version, load_deployed

    output = config["output_folder_path"]
    result = ingestion.ingest_configured(config)
    run.new_files = [f.entry["name"] for f in result.sources]
    batch = result.new_rows
    run.new_rows = len(batch)
    try:  # before anything is saved: a broken deployment must not consume the batch
        model, manifest = load_deployed(
            config["prod_deployment_path"], config["deployment"]["signing_key_path"]
        )
    except ModelError:
        if current_version(config["prod_deployment_path"]):
            raise  # a deployment exists but is broken: say so, do not silently replace it
        model, manifest = None, None
        log.info("no model deployed yet: the new model will be the first")
    if manifest:
        run.deployed_version, run.deployed_f1 = manifest["version"], manifest["f1"]
    if manifest and not batch.empty:
        profile = (read_json(Path(manifest["folder"]) / MODEL_META, {}) or {}).get("profile")
        check_drift(config, run, batch, model, manifest, profile)
    if not run.dry_run:
        ingestion.save_ingestion(output, result)
        ingestion.log_result(result)
    if batch.empty:
        run.decision, run.reason = "none", "no new rows (files rejected or rows ingested before)"
        return
    retrain, why = retrain_decision(
        run.model_drift,
        run.data_drift,
        manifest is not None,
        config["data_drift"]["triggers_retraining"],
    )
    run.reason = f"{run.reason}; {why}" if run.reason else why
    if not retrain:
        run.decision = "no drift"
        return
    if run.dry_run:
        run.decision = "would retrain"
        return
    if retrain_and_gate(config, run, model):
        after_deployment(config, run)


def process(config: dict[str, Any], dry_run: bool = False) -> Run:
    """One run: lock, look for new data, run the pipeline, record the run."""
    start = time.perf_counter()
    run = Run(dry_run=dry_run)
    try:
        files = new_data(config)
        if not files:
            run.reason = "no new data"
            log.info(
                "no new data in %s%s",
                config["input_folder_path"],
                " or the database" if config["input_database"]["url"] else "",
            )
            return run
        log.info("new data: %s", ", ".join(files))
        run_pipeline(config, run)
    except (RiskError, OSError) as exc:
        run.decision, run.error = "error", str(exc)
        raise
    finally:
        if not dry_run:
            record_run(config["output_folder_path"], run, time.perf_counter() - start)
    log.info(
        "%s%s: %s%s",
        "dry run: " if dry_run else "",
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
        print(format_history(read_history(config["output_folder_path"], args.history)))
        return 0
    if not args.dry_run:
        setup_file_logging(config)
    lock = RunLock(config["output_folder_path"])
    if not lock.acquire():
        return 0
    try:
        run = process(config, args.dry_run)
    finally:
        lock.release()
    return 1 if run.error else 0


if __name__ == "__main__":
    run_cli(main, "fullprocess")
