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

run_pipeline tells one run as the cron sees it: new data? ingest; judge; retrain and gate;
deploy; report; record; notify. Each step returns the batch as the store now holds it, and
the run's record is built once, from that batch (run_record). Its parts: batch_steps.py
(the steps), judging.py (the drift verdict), gating.py (retrain and gate), notify.py,
cron.py (the crontab line).

The "nothing new" path runs 144 times a day, so this module imports only the standard
library, common.py, store.py and its light parts at the top; the pipeline's modules
(pandas, scikit-learn, matplotlib) are imported only once there is work to do.
"""

from __future__ import annotations

import logging

from risk_assessment.core.common import cli_parser, run_cli

from risk_assessment.core.locking import WriterLock
from risk_assessment.core.settings import load_config
from risk_assessment.pipeline.run import format_history, run_once, setup_file_logging
from risk_assessment.store import records as store

log = logging.getLogger("fullprocess")


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
        run = run_once(config, args.dry_run)
    finally:
        lock.release()
    return 1 if run.error else 0


if __name__ == "__main__":
    run_cli(main, "fullprocess")
