"""Scoring: F1 (and precision, recall, ROC AUC) of the trained model on the test data.

Reads   output_model_path/trainedmodel.skops (+ trainedmodel.json to verify it)
        test_data_path/testdata.csv (or test_data_path itself when it is a file)
Writes  output_model_path/latestscore.txt   the F1 alone, a plain number (read with float())
        output_model_path/scores.json       every metric, the model's sha256, the data used
Run     python scoring.py [--config config.json]

Also the one loader of a trained model (load_model_verified): skops, checked first.
"""

from __future__ import annotations

from risk_assessment.core.common import cli_parser, run_cli

from risk_assessment.core.locking import writer_lock
from risk_assessment.core.settings import load_config
from risk_assessment.modelling.scoring import run_scoring


def main() -> int:
    """Score the configured trained model on the configured test data."""
    args = cli_parser(__doc__.splitlines()[0]).parse_args()
    config = load_config(args.config)
    with writer_lock(config, "scoring.py"):
        run_scoring(config)
    return 0


if __name__ == "__main__":
    run_cli(main, "scoring")
