"""HTTP API over the deployed model and the diagnostics. Every answer is JSON (but /).

Speaks MLflow's scoring protocol on /invocations (protocol.py), describes itself at
/openapi.json (openapi.py) and counts itself at /metrics (metrics.py). The views are
module-level functions on a Blueprint (the dashboard's are in dashboard.py); what they
share (models, data caches, config) is one serving.ApiState, read through serving.state().
Reads   the deployed model (prod_deployment_path/current), finaldata.csv, the test data,
        the recorded timings and the cached dependency table
Run     python app.py [--config config.json]          development server, 127.0.0.1:8000
        gunicorn -c gunicorn.conf.py wsgi:app          production (see README)
        python app.py users add NAME --role viewer|manager|admin   (also: list, remove)
        python app.py tokens create NAME --scope predict[,read,contacts]   (list, revoke)
"""

from __future__ import annotations

from risk_assessment.core.common import run_cli

from risk_assessment.access import commands
from risk_assessment.access.binding import refuse_open_bind
from risk_assessment.core.settings import load_config
from risk_assessment.server.app import create_app


def main() -> int:
    """Serve the API with Flask's development server (no debug mode), or manage users and
    tokens."""
    args = commands.parser(__doc__.splitlines()[0]).parse_args()
    config = load_config(args.config)
    if args.command:
        return commands.run(args, config)
    refuse_open_bind(config, [config["api"]["host"]])
    app = create_app(config)
    app.run(host=config["api"]["host"], port=int(config["api"]["port"]), debug=False)
    return 0


if __name__ == "__main__":
    run_cli(main, "app")
