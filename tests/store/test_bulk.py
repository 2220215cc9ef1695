"""store/bulk.py: a source's rows inserted with its indexes rebuilt when it is big next to
the store, and its exact repeats flagged as a row-by-row comparison would flag them."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_assessment.store import records as store
from risk_assessment.store.bulk import Columns, repeated_rows
from risk_assessment.store.tables import OBSERVATION_INDEXES


def entry(name: str) -> dict:
    return {"name": name, "path": f"/in/{name}", "sha256": name, "size": 1, "mtime_ns": 1,
            "status": "ingested"}  # fmt: skip


def indexes(folder: Path) -> set[str]:
    """The names of the observations table's indexes."""
    with closing(sqlite3.connect(store.store_path(folder))) as db:
        found = db.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                           "AND tbl_name = 'observations'")  # fmt: skip
        return {name for (name,) in found}


def flags(folder: Path) -> list[int]:
    """Every observation's duplicate flag, in order of seq."""
    with closing(sqlite3.connect(store.store_path(folder))) as db:
        return [d for (d,) in db.execute("SELECT duplicate FROM observations ORDER BY seq")]


def reference_flags(batches: list[list[tuple]]) -> list[int]:
    """The flags a row-by-row comparison gives: 1 when an earlier row is the same."""
    seen, out = set(), []
    for batch in batches:
        for row in batch:
            out.append(int(row in seen))
            seen.add(row)
    return out


def plan(rows: list[tuple]) -> str:
    """How SQLite finds a client's rows: the query plan of a look-up by id."""
    return " ".join(str(r) for r in rows)


def test_a_first_big_source_leaves_both_indexes_and_uses_them(tmp_path):
    """The rebuild path drops the indexes for the insert and builds them again: the store
    ends with both, and a look-up by client uses the index (not a scan)."""
    rows = [(f"c{i}", i % 7, i, 3, i % 2) for i in range(300)]
    store.commit_batch(tmp_path, [("file", entry("a.csv"), rows)], {})
    assert indexes(tmp_path) == set(OBSERVATION_INDEXES)
    with closing(sqlite3.connect(store.store_path(tmp_path))) as db:
        query = "EXPLAIN QUERY PLAN SELECT * FROM observations WHERE corporation = 'c5'"
        assert "observations_row" in plan(db.execute(query).fetchall())


def test_a_failed_big_source_keeps_the_indexes_and_the_rows(tmp_path):
    """A failure while the indexes are dropped rolls the drop back with the rows."""
    store.commit_batch(tmp_path, [("file", entry("a.csv"), [("a", 1, 2, 3, 0)])], {})

    def failing():
        yield from [(f"c{i}", 1, 2, 3, 1) for i in range(50)]
        raise OSError("disk gone")

    with pytest.raises(OSError):
        store.commit_batch(tmp_path, [("file", entry("b.csv"), failing())], {})
    assert indexes(tmp_path) == set(OBSERVATION_INDEXES)
    assert flags(tmp_path) == [0]


def test_columns_are_stored_as_the_same_rows(tmp_path):
    """Rows given as columns (what ingestion passes) are stored as the row tuples would
    be, repeats within the source flagged."""
    columns = [["a", "b", "a", "c"], [1, 2, 1, 1], [5, 6, 5, 5], [7, 8, 7, 9], [0, 1, 0, None]]
    batch = [("file", entry("a.csv"), Columns(columns))]
    store.commit_batch(tmp_path, batch, {})
    assert batch[0][1]["rows_new"] == 3
    assert flags(tmp_path) == [0, 0, 1, 0]
    assert len(Columns(columns)) == 4 and list(Columns(columns))[1] == ("b", 2, 6, 8, 1)


def test_repeated_rows_are_the_rows_whose_id_recurs():
    """Seqs from first of every row sharing its id with another row; none when distinct."""
    assert repeated_rows(["a", "b", "c"], 10) == []
    assert repeated_rows(["a", "b", "a", "c", "b"], 10) == [10, 11, 12, 14]


row = st.tuples(
    st.sampled_from(["a", "b", "c"]),  # ids
    st.integers(0, 2),
    st.integers(0, 1),
    st.sampled_from([0, 3]),
    st.sampled_from([0, 1, None]),  # target; None unlabelled
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(row, max_size=12), min_size=1, max_size=4))
def test_repeats_are_flagged_as_row_by_row_comparison_flags_them(tmp_path_factory, batches):
    """Whatever the sizes (every batch takes either path: bigger than the store or not),
    each row is flagged exactly when an earlier observation has the same id and values."""
    folder = tmp_path_factory.mktemp("store")
    for k, batch in enumerate(batches):
        store.commit_batch(folder, [("file", entry(f"{k}.csv"), batch)], {})
    assert flags(folder) == reference_flags(batches)
    assert indexes(folder) == set(OBSERVATION_INDEXES)
