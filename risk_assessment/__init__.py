"""The Dynamic Risk Assessment System: the logic under the top-level scripts.

The scripts at the top of the checkout (ingestion.py ... fullprocess.py) are thin edges:
arguments, config, main(). Everything they do lives here, in sub-packages by concern. Imports
run one way, down this list (tests/test_layout.py checks it): core, schema, store, sources,
monitoring, modelling, deployment, reports, then server, client, samples, and pipeline on
top. Nothing here imports a top-level script; importing a module does nothing.
"""
