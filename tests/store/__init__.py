"""Tests of risk_assessment.store."""
