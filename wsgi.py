"""Production entry point: `gunicorn -c gunicorn.conf.py wsgi:app` (see README).

The config comes from $RISK_CONFIG, else config.json beside this file.
"""

from risk_assessment.server.app import create_app

app = create_app()
