"""Deployment: signed, versioned deployments of model + score + record; rollback, prune,
loading the deployed model with its signature checked.

May import: core, store, modelling.
"""
