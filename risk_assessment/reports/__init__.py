"""Reports: diagnostics (predictions, summaries, timings, dependencies), the risk list, the
PDF report and its text, the model's health over versions.

May import: core, schema, store, sources, monitoring, modelling, deployment.
"""
