"""store/readable.py: whether training rows were stored under another schema, found one
row per source, agrees with asking every row."""

from __future__ import annotations

import pytest

from risk_assessment.core.columns import parse_schema
from risk_assessment.store import records as store
from risk_assessment.store.handle import connection
from risk_assessment.store.readable import other_schema_rows

OLD = parse_schema({"id": "a", "target": "y", "features": {"x": {"type": "integer"}}})
NEW = parse_schema(
    {"id": "a", "target": "y", "features": {"x": {"type": "integer"}, "z": {"type": "number"}}}
)


def every_row(db, schema) -> bool:
    """The question asked of every row (what other_schema_rows must agree with)."""
    return bool(db.execute(
        "SELECT EXISTS (SELECT 1 FROM observations WHERE exited IS NOT NULL "
        "AND duplicate = 0 AND schema IS NOT ?)", (schema.fingerprint(),),
    ).fetchone()[0])  # fmt: skip


def commit(folder, name, schema, rows):
    store.commit_batch(folder, [("file", {"name": name, "status": "ingested"}, rows)], {},
                       schema=schema)  # fmt: skip


@pytest.mark.parametrize(
    "old_rows, expected",
    [
        ([], False),  # nothing stored under the old schema
        ([("c1", 1, None)], False),  # only an unlabelled row
        ([("c1", 1, 0)], True),  # a training row
        ([("c1", 1, 0), ("c1", 1, 0)], True),  # a training row and its repeat
    ],
)
def test_rows_of_another_schema_are_found_as_every_row_finds_them(tmp_path, old_rows, expected):
    """A source stored under the old schema counts when it holds a labelled row that is
    not a repeat; the new schema's own rows never count."""
    if old_rows:
        commit(tmp_path, "old.csv", OLD, old_rows)
    commit(tmp_path, "new.csv", NEW, [("c2", 1, 0.5, 1), ("c3", 2, 1.5, 0)])
    with connection(tmp_path) as db:
        assert other_schema_rows(db, NEW) is expected
        assert every_row(db, NEW) is expected
        assert other_schema_rows(db, OLD) is True
