"""Tests of risk_assessment.modelling."""
