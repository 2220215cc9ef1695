"""Reporting: confusion-matrix plot and a PDF summary report of the deployed model.

Reads   the deployed model and its manifest, scores and ingestion record
        (prod_deployment_path/current), test_data_path/testdata.csv, finaldata.csv,
        the dependency table (diagnostics.py's cache, refreshed when older than a day)
Writes  output_model_path/confusionmatrix.png
        (finaldata.csv and the other exports, rewritten from the store when they are
        behind it and no writer is at work)
        output_model_path/summary_report.pdf
        output_model_path/risk_scores.csv   every client ranked by exit probability,
                                            with risk band and top reasons
Run     python reporting.py [--config config.json]          all three
        python reporting.py [--config config.json] --risk   risk_scores.csv only
"""

from __future__ import annotations

from risk_assessment.core.common import cli_parser, run_cli

from risk_assessment.core.settings import load_config
from risk_assessment.reports.reporting import run_reporting, run_risk
from risk_assessment.store import records as store


def main() -> int:
    """Write the plot and the report for the deployed model."""
    parser = cli_parser(__doc__.splitlines()[0])
    parser.add_argument("--risk", action="store_true", help="write risk_scores.csv only")
    args = parser.parse_args()
    config = load_config(args.config)
    store.refresh_exports_if_free(config["output_folder_path"], config["schema"], "reporting.py")
    if args.risk:
        run_risk(config)
        return 0
    run_reporting(config)
    return 0


if __name__ == "__main__":
    run_cli(main, "reporting")
