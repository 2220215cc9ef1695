"""Tests of risk_assessment.pipeline."""
