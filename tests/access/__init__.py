"""Tests of risk_assessment.access."""
