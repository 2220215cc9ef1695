"""Tests of risk_assessment.sources."""
