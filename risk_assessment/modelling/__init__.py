"""Modelling: training the logistic regression and scoring it (F1, intervals, the
label-based and label-free verdicts' numbers).

May import: core, schema, store, monitoring.
"""
