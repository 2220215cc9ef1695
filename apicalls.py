"""API calls: call every endpoint of a running server and save the answers.

Reads   the server at api.base_url (default http://127.0.0.1:8000), or --url
Writes  output_model_path/apireturns.txt    readable: one section per endpoint
        output_model_path/apireturns.json   every answer with its status code
Run     python apicalls.py [--config config.json] [--url URL]
        RISK_API_TOKEN=rat_... python apicalls.py     (once the server has users)

Before saving anything it asks the server's /version and compares the model's sha256 with
this deployment's live manifest: answers from a server serving another deployment (another
checkout, an old process on the same port) are not saved. Imports no other script, so it
starts without pandas, scikit-learn or reportlab.
"""

from __future__ import annotations

from risk_assessment.core.common import cli_parser, run_cli

from risk_assessment.client.apicalls import run_apicalls
from risk_assessment.core.settings import load_config


def main() -> int:
    """Call the configured (or given) server; exit 1 if it is not up or a call failed."""
    parser = cli_parser(__doc__.splitlines()[0])
    parser.add_argument("--url", help="base URL of the server (default: api.base_url)")
    args = parser.parse_args()
    config = load_config(args.config)
    run_apicalls(config, args.url)
    return 0


if __name__ == "__main__":
    run_cli(main, "apicalls")
