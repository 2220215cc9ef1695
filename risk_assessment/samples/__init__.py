"""Samples: the deterministic generators of the shipped sample data.

May import: core.
"""
