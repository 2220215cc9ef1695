"""Tests of risk_assessment.client."""
