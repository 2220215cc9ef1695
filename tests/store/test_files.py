"""The exports written from the store (store/files.py): finaldata.csv grows by the newer
rows when the store has only gained observations, and is rebuilt whole otherwise."""

from __future__ import annotations

from risk_assessment.core.columns import parse_schema
from risk_assessment.core.common import FINALDATA
from risk_assessment.store import files
from risk_assessment.store import records as store
from risk_assessment.store.handle import connection
from risk_assessment.store.tables import get_meta

SCHEMA = parse_schema(
    {
        "id": "account",
        "target": "churned",
        "features": {
            "spend": {"type": "number"},
            "plan": {"type": "category", "required": False},
        },
    }
)


def entry(name: str) -> dict:
    """A minimal record entry for a file source."""
    return {"name": name, "path": f"/in/{name}", "sha256": name * 4, "status": "ingested"}


def rows(n: int, start: int = 0) -> list[tuple]:
    """n observations (account, spend, plan, churned): awkward floats, missing plans,
    some unlabelled."""
    return [
        (f"a{i:03d}", 0.1 * i + 0.2, None if i % 3 else "pro", None if i % 7 == 6 else i % 2)
        for i in range(start, start + n)
    ]


def ingest(folder, name: str, data: list[tuple]) -> None:
    store.commit_batch(folder, [("file", entry(name), data)], {}, schema=SCHEMA)


def appendable(folder) -> int | None:
    """files.appendable() of folder's store as it is now."""
    with connection(folder) as db:
        fingerprint = [*files.export_fingerprint(db), SCHEMA.fingerprint()]
        return files.appendable(folder, get_meta(db, "exports", {}), fingerprint)


def test_a_grown_store_adds_its_new_rows_to_the_export(tmp_path):
    """After a second ingestion (new rows, exact repeats, unlabelled rows) finaldata.csv
    grows by the new training rows only, and equals the export rebuilt whole."""
    ingest(tmp_path, "a.csv", rows(20))
    store.refresh_exports(tmp_path, SCHEMA)
    first = (tmp_path / FINALDATA).read_bytes()
    ingest(tmp_path, "b.csv", rows(10, 15))  # 5 exact repeats, 5 new
    assert appendable(tmp_path) == 20  # the export holds observations up to seq 20
    assert store.refresh_exports(tmp_path, SCHEMA) is True
    grown = (tmp_path / FINALDATA).read_bytes()
    assert grown.startswith(first) and grown.count(b"\n") > first.count(b"\n")
    (tmp_path / FINALDATA).unlink()
    assert appendable(tmp_path) is None
    store.refresh_exports(tmp_path, SCHEMA)
    assert (tmp_path / FINALDATA).read_bytes() == grown


def test_floats_and_missing_values_are_written_exactly(tmp_path):
    """A float is written as repr writes it (it reads back equal), a missing value as an
    empty cell, the header once."""
    ingest(tmp_path, "a.csv", rows(2))
    store.refresh_exports(tmp_path, SCHEMA)
    ingest(tmp_path, "b.csv", rows(2, 2))
    store.refresh_exports(tmp_path, SCHEMA)
    text = (tmp_path / FINALDATA).read_text()
    assert text == (
        "account,spend,plan,churned\n"
        "a000,0.2,pro,0\n"
        f"a001,{0.1 + 0.2!r},,1\n"
        f"a002,{0.1 * 2 + 0.2!r},,0\n"
        f"a003,{0.1 * 3 + 0.2!r},pro,1\n"
    )


def test_an_edited_export_is_rebuilt_not_grown(tmp_path):
    """A hand-edited finaldata.csv is never added to: the store rebuilds it whole."""
    ingest(tmp_path, "a.csv", rows(20))
    store.refresh_exports(tmp_path, SCHEMA)
    rebuilt = (tmp_path / FINALDATA).read_bytes()
    with (tmp_path / FINALDATA).open("a") as fh:
        fh.write("x999,1.0,pro,1\n")
    ingest(tmp_path, "b.csv", rows(5, 20))
    assert appendable(tmp_path) is None
    store.refresh_exports(tmp_path, SCHEMA)
    text = (tmp_path / FINALDATA).read_bytes()
    assert b"x999" not in text and text.startswith(rebuilt)


def test_a_changed_schema_rebuilds_the_export(tmp_path):
    """Under another schema the export is rebuilt with that schema's columns."""
    ingest(tmp_path, "a.csv", rows(20))
    store.refresh_exports(tmp_path, SCHEMA)
    other = parse_schema({**SCHEMA.to_dict(), "features": {"spend": {"type": "number"}}})
    with connection(tmp_path) as db:
        fingerprint = [*files.export_fingerprint(db), other.fingerprint()]
        assert files.appendable(tmp_path, get_meta(db, "exports", {}), fingerprint) is None
    store.refresh_exports(tmp_path, other)
    assert (tmp_path / FINALDATA).read_text().startswith("account,spend,churned\n")
