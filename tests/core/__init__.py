"""Tests of risk_assessment.core."""
