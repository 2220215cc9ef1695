"""Tests of risk_assessment.deployment."""
