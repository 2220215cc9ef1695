"""Ingestion: validate new CSV files (and database rows) and store them as observations.

Reads   every *.csv in input_folder_path (never changes them), in order of arrival
        (modification time, then name); input_database rows above the watermark
Writes  output_folder_path/store.db            the system of record (store.py): every valid
                                               row with its source, in order of arrival
        output_folder_path/finaldata.csv       export: the training set (labelled rows,
                                               exact duplicates dropped)
        output_folder_path/ingestedfiles.txt   export: one ingested file name per line
        output_folder_path/ingestion_record.json  export: per source: name, sha256, rows
                                               read, kept, rejected and why; per run: metrics
Run     python ingestion.py [--config config.json]
        python ingestion.py --infer-schema FILE.csv   print a `"schema": {...}` block for
                                               the file (stdout; each guess on stderr)

Rows with an empty `exited` are stored as unlabelled observations: current clients whose
outcome is not known yet. They are ranked and monitored, never trained on.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from risk_assessment.core.common import cli_parser, run_cli

from risk_assessment.core.locking import writer_lock
from risk_assessment.core.settings import load_config
from risk_assessment.sources.infer import infer_file
from risk_assessment.sources.ingestion import run_ingestion

log = logging.getLogger("ingestion")


def main() -> int:
    """Ingest the configured folder (and database); exit 1 when all new data was rejected."""
    parser = cli_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--infer-schema",
        type=Path,
        metavar="FILE.csv",
        help="print a schema block for FILE.csv to paste into config.json, then exit",
    )
    args = parser.parse_args()
    if args.infer_schema:
        block, notes = infer_file(args.infer_schema)
        print("\n".join(f"guess: {n}" for n in notes), file=sys.stderr)
        print(block)
        return 0
    config = load_config(args.config)
    with writer_lock(config, "ingestion.py"):
        result = run_ingestion(config)
    if not result.sources:
        log.info(
            "no new data in %s%s; nothing to do",
            config["input_folder_path"],
            " or the database" if config["input_database"]["url"] else "",
        )
        return 0
    if not result.ingested:
        log.error("all new data was rejected; the stored data is unchanged")
        return 1
    return 0


if __name__ == "__main__":
    run_cli(main, "ingestion")
