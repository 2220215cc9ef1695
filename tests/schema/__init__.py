"""Tests of risk_assessment.schema."""
