"""Tests of risk_assessment.monitoring."""
