"""The tests: one folder per sub-package of risk_assessment; end-to-end and repository
tests at this level; shared fixtures in conftest.py."""
