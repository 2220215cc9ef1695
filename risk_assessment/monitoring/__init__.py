"""Monitoring: the statistics of the monitoring loop (drift tests, PSI, thresholds, the
retrain decision) and the verdicts they return. Pure functions on arrays and frames.

May import: core.
"""
