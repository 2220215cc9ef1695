"""Sources: where new data comes from (the input folder, a database table) and its
ingestion into the store.

May import: core, schema, store.
"""
