"""Diagnostics: predictions, summary statistics, missing data, timings, dependency versions.

Reads   the deployed model (prod_deployment_path/current), output_folder_path/finaldata.csv,
        test_data_path/testdata.csv, requirements.txt, the ingestion record
Writes  output_model_path/dependencies.json   cached dependency table (refreshed daily)
        finaldata.csv and the other exports, rewritten from the store when they are behind
        it and no writer is at work
Run     python diagnostics.py [--config config.json]   prints every diagnostic as a table
"""

from __future__ import annotations

from risk_assessment.core.common import cli_parser, run_cli

from risk_assessment.core.settings import load_config
from risk_assessment.reports.diagnostics import diagnostics_text
from risk_assessment.store import records as store


def main() -> int:
    """Print every diagnostic."""
    args = cli_parser(__doc__.splitlines()[0]).parse_args()
    config = load_config(args.config)
    store.refresh_exports_if_free(config["output_folder_path"], config["schema"], "diagnostics.py")
    print(diagnostics_text(config))
    return 0


if __name__ == "__main__":
    run_cli(main, "diagnostics")
