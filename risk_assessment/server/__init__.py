"""Server: the model server (Flask app factory, MLflow scoring protocol, state, OpenAPI,
Prometheus metrics) and the dashboard.

May import: core, schema, store, monitoring, modelling, deployment, reports.
"""
