"""Store: the system of record (store.db, SQLite): observations, sources, batches, runs,
watermarks; the exports (finaldata.csv, ingestedfiles.txt, ingestion_record.json).

May import: core, schema.
"""
