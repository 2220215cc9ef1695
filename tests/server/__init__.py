"""Tests of risk_assessment.server."""
