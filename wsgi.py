"""Production entry point: `gunicorn --bind 127.0.0.1:8000 wsgi:app` (see README).

The config comes from $RISK_CONFIG, else config.json beside this file.
"""

from app import create_app

app = create_app()
