"""Pipeline: the cron job's run (run.py), its steps (ingest, judge, retrain and gate,
deploy, report, notify), the crontab line.

May import: every other sub-package but server.
"""
