"""Tests of risk_assessment.samples."""
