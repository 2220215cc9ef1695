"""Schema: the data's columns and the validation of rows (files, database rows, finaldata,
test data, API requests).

May import: core.
"""
