"""The logic under fullprocess.py: one cron run: new data? ingest; judge; retrain and gate;
deploy; report; record; notify.

What it reads and writes, and the command: the docstring of fullprocess.py.
"""

from __future__ import annotations

import logging
import logging.handlers
import time
from dataclasses import asdict
from typing import Any, NamedTuple, NoReturn

from risk_assessment.core.common import (
    RiskError,
    SafeFormatter,
    escape_text,
    first_line,
    format_number,
    format_table,
    now_iso,
    setup_logging,
)

from risk_assessment.core.locking import remove_stale_temps
from risk_assessment.pipeline import notify
from risk_assessment.pipeline.judging import (
    batch_frame,
    judge,
    load_live,
    warn_if_schema_changed,
)
from risk_assessment.pipeline.steps import (
    deploy_step,
    done_step,
    gate_step,
    ingest_step,
    judge_step,
    new_inputs,
    report_step,
)
from risk_assessment.store import records as store
from risk_assessment.store.records import Run

log = logging.getLogger("fullprocess")
TRACE = logging.getLogger("fullprocess.trace")  # tracebacks: to the log file only
TRACE.propagate = False


class RunError(RiskError):
    """An unexpected failure inside a run: recorded as an error, traceback in the log."""


# ---- history and logging -------------------------------------------------------------------


HISTORY_COLUMNS = [
    *("id", "started_at", "ticks", "new_files", "batch_f1", "deployed_f1", "decision"),
    *("new_version", "reason"),
]


def format_history(rows: list[dict[str, Any]]) -> str:
    """The runs as a plain-text table; the reason (the verdict with its numbers) is the
    last column and is never cut."""
    return format_table([history_cells(r, HISTORY_COLUMNS) for r in rows], HISTORY_COLUMNS)


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


# ---- a run, as the cron tells it -----------------------------------------------------------

MAX_BATCHES_PER_TICK = 10  # bounds one tick when files keep arriving


def run_once(config: dict[str, Any], dry_run: bool = False) -> Run:
    """One cron tick (the caller holds the lock): finish every interrupted batch, then take
    new data through; each batch is a run in the history. Returns the last run.

    An idle tick is recorded only when nothing else happened.
    """
    if dry_run:
        return dry_run_once(config)
    for path in remove_stale_temps(config):
        log.info("removed %s, left by a run that was killed while writing it", path)
    last = None
    for _ in range(MAX_BATCHES_PER_TICK):
        run = run_pipeline(config, record_idle=last is None)
        if run.batch_id is None:
            return last or run
        last = run
    return last


def run_pipeline(config: dict[str, Any], record_idle: bool = True) -> Run:
    """One run: new data? ingest; judge; retrain and gate; deploy; report; then record the
    run and notify. Each step skips itself when the batch is past it or does not need it.

    Expected failures are recorded and raised again (one line, exit 1); an unexpected
    one is recorded as `error` with its one-line summary, its traceback goes to the log
    file, and it is raised as a RunError.
    """
    with store.Store(config["output_folder_path"]) as db:  # opened once, passed down
        run = run_steps(config, db, record_idle)
    if run.batch_id is not None or record_idle:
        log_decision(run)
    return run


def run_steps(config: dict[str, Any], db: store.Store, record_idle: bool) -> Run:
    """run_pipeline's steps on the run's open store; returns the run it recorded."""
    started, work, failure, report_error = Started.now(), Work(), None, None
    batch = None
    try:
        work = find_work(config, db)  # a batch an earlier run left, else: new data? ingest
        batch = work.batch
        if batch is not None:
            batch = judge_step(config, batch, work.frame, db)
            batch = gate_step(config, batch, db)
            batch = deploy_step(config, batch, db)
            report_error = report_step(config, asdict(run_record(started, work, batch)), batch)
            batch = done_step(config, batch, db)
    except Exception as exc:
        failure = failure_text(exc)
        raise_failure(exc, failure)
    finally:
        decision = "error" if failure else None
        run = run_record(started, work, batch, decision=decision, error=failure or report_error)
        if record_idle or not store.is_idle(run):
            store.record_run(db, run)
            send_notifications(config, db, run)
    return run


def dry_run_once(config: dict[str, Any]) -> Run:
    """Say what a run would do, storing nothing."""
    started = Started.now()
    try:
        run = would_do(config, started)
    except Exception as exc:
        raise_failure(exc, failure_text(exc))
    log_decision(run)
    return run


def failure_text(exc: Exception) -> str:
    """The one line a failed run records; an unexpected failure's traceback goes to the
    log file."""
    if isinstance(exc, (RiskError, OSError)):
        return escape_text(str(exc))
    TRACE.error("unexpected error in run", exc_info=exc)
    return f"{type(exc).__name__}: {first_line(exc)}"


def raise_failure(exc: Exception, failure: str) -> NoReturn:
    """Raise an expected failure again as it is, an unexpected one as a RunError."""
    if isinstance(exc, (RiskError, OSError)):
        raise exc
    raise RunError(f"unexpected error: {failure} (traceback in the log file)") from None


def log_decision(run: Run) -> None:
    """One line: the run's decision, why, and the version now live when it changed."""
    log.info(
        "%s%s: %s%s",
        "dry run: " if run.dry_run else "",
        run.decision,
        run.reason,
        f" (now {run.new_version})" if run.new_version else "",
    )


# ---- the run's record ----------------------------------------------------------------------


class Started(NamedTuple):
    """When a run started: the time recorded, and the clock for its seconds."""

    at: str
    clock: float

    @classmethod
    def now(cls) -> Started:
        """The start of a run now."""
        return cls(now_iso(), time.perf_counter())


class Work(NamedTuple):
    """What a run found to do (find_work): the batch, None when there is nothing to judge."""

    batch: dict[str, Any] | None = None
    files: tuple[str, ...] = ()  # the new files (or database) the batch came from
    frame: Any = None  # the batch's new rows (pandas), read once per run
    live: tuple[str | None, float | None] = (None, None)  # version and F1 as the run started
    reason: str = ""  # why there is no batch


def run_record(
    started: Started,
    work: Work,
    batch: dict[str, Any] | None = None,
    decision: str | None = None,
    error: str | None = None,
    dry_run: bool = False,
) -> Run:
    """The run's record (a history row), built only here: from what the run found, the
    batch as far as its steps took it (its verdict, gate and version), and the error.

    decision: given for a failed run ("error") or a dry run that would resume; else it
    follows from the batch (run_outcome).
    """
    batch = batch or {}
    verdict, gate, frame = batch.get("verdict") or {}, batch.get("gate"), work.frame
    outcome, reason = run_outcome(verdict, gate, dry_run)
    return Run(
        **verdict.get("fields", {}),
        started_at=started.at,
        ended_at=now_iso(),
        seconds=round(time.perf_counter() - started.clock, 3),
        dry_run=dry_run,
        batch_id=batch.get("id"),
        step=batch.get("step"),
        new_files=list(work.files),
        new_rows=0 if frame is None else len(frame),
        unlabelled_rows=0 if frame is None else int(frame[frame.attrs["target"]].isna().sum()),
        deployed_version=batch.get("deployed_version") or work.live[0],
        deployed_f1=work.live[1],
        gate=gate,
        decision=decision or outcome,
        reason=reason or work.reason,
        new_f1=gate["new_f1"] if gate else None,
        new_version=batch.get("new_version"),
        error=error,
    )


def run_outcome(verdict: dict[str, Any], gate: dict[str, Any] | None, dry_run: bool):
    """(decision, reason) of a batch's verdict and gate: deployed or refused once gated,
    retrain or no drift once judged, none before."""
    if gate:
        decision = "deployed" if gate["deploy"] else "refused"
        if gate.get("first"):  # the verdict says the same ("no deployed model yet")
            return decision, gate["reason"]
        return decision, f"{verdict['reason']}; {gate['reason']}"
    if verdict:
        retrain = "would retrain" if dry_run else "retrain"
        return (retrain if verdict["retrain"] else "no drift"), verdict["reason"]
    return "none", ""


# ---- what a run finds to do --------------------------------------------------------------


def find_work(config: dict[str, Any], db: store.Store) -> Work:
    """The batch an earlier run left unfinished; else, when there is new data, the batch
    ingesting it stored (a Work without batch, with its reason, when there is none)."""
    batch = store.pending_batch(db)
    files = []
    if batch is not None:
        log.info("resuming batch %d from step %s", batch["id"], batch["step"])
    else:
        names = new_inputs(config, db)
        if not names:
            log.info(
                "no new data in %s%s",
                config["input_folder_path"],
                " or the database" if config["input_database"]["url"] else "",
            )
            warn_if_schema_changed(config)
            return Work(reason="no new data")
        log.info("new data: %s", ", ".join(escape_text(n, 100) for n in names))
        batch, files = ingest_step(config, db)
        if batch is None:
            return Work(files=tuple(files), reason=NO_NEW_ROWS)
    return Work(batch, *batch_facts(config, db, batch, files))


NO_NEW_ROWS = "no new rows (files rejected or rows ingested before)"


def batch_facts(config: dict[str, Any], db: store.Store, batch: dict, files: list[str]) -> tuple:
    """(files, frame, live) of a batch: its source names (files when given), its new rows
    (read once per run) and the live version and its F1 (from the manifest, no model load)."""
    from risk_assessment.deployment.versions import current_version, read_live_manifest

    prod = config["prod_deployment_path"]
    files = files or [e["name"] for e in store.batch_sources(db, batch["id"])]
    live = (current_version(prod), read_live_manifest(prod).get("f1"))
    return tuple(files), batch_frame(config, batch["id"], db), live


def send_notifications(config: dict[str, Any], db: store.Store, run: Run) -> None:
    """Notifications (notify.py; off by default; a failure to send never fails the run)."""
    if notify.enabled(settings := config["notify"]):
        history = store.read_history(db, settings["failed_ticks"] + 2)
        notify.notify_run(config, asdict(run), history)


def would_do(config: dict[str, Any], started: Started) -> Run:
    """The record of what a run would do now (a dry run): ingest without storing and
    judge what is new."""
    from risk_assessment.sources import ingestion

    batch = store.pending_batch(config["output_folder_path"])
    if batch is not None:
        work = Work(reason=f"batch {batch['id']} at step {batch['step']}")
        return run_record(started, work, decision="would resume", dry_run=True)
    result = ingestion.ingest_configured(config)
    files, frame = tuple(f.entry["name"] for f in result.sources), result.new_rows
    if frame.empty:
        work = Work(files=files, reason="no new data" if not result.sources else "no new rows")
        return run_record(started, work, dry_run=True)
    verdict = judge(config, frame, *load_live(config))
    work = Work(files=files, frame=frame)
    return run_record(started, work, {"verdict": verdict._asdict()}, dry_run=True)
