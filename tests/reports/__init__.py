"""Tests of risk_assessment.reports."""
