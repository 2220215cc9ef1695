"""Training: fit the attrition model on the ingested data.

Reads   output_folder_path/finaldata.csv
Writes  output_model_path/trainedmodel.skops  the fitted scikit-learn model (skops: loads
                                              without running code; the one that is used)
        output_model_path/trainedmodel.pkl    the same model pickled, for the original tools
        output_model_path/trainedmodel.json   its provenance: data hash, rows, features,
                                              hyperparameters, library versions, time
Run     python training.py [--config config.json]
"""

from __future__ import annotations

from risk_assessment.core.common import cli_parser, run_cli

from risk_assessment.core.locking import writer_lock
from risk_assessment.core.settings import load_config
from risk_assessment.modelling.training import run_training


def main() -> int:
    """Train the model on the configured ingested data."""
    args = cli_parser(__doc__.splitlines()[0]).parse_args()
    config = load_config(args.config)
    with writer_lock(config, "training.py"):
        run_training(config)
    return 0


if __name__ == "__main__":
    run_cli(main, "training")
