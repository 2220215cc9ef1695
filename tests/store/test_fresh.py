"""finaldata.csv written from the values an ingestion just committed (store/fresh.py) is
byte for byte the export the store writes from its own rows, and the values are used only
when the batch's rows are the newest observations."""

from __future__ import annotations

from risk_assessment.core.columns import parse_schema
from risk_assessment.core.common import FINALDATA
from risk_assessment.core.settings import load_config
from risk_assessment.sources import ingestion
from risk_assessment.store import records as store
from risk_assessment.store.fresh import fresh_span
from risk_assessment.store.handle import connection
from tests.conftest import make_workspace

SCHEMA = parse_schema(
    {
        "id": "account",
        "target": "churned",
        "value": "acv",
        "features": {
            "seats": {"type": "integer"},
            "spend": {"type": "number", "required": False},
            "plan": {"type": "category", "required": False},
            "renews": {"type": "boolean"},
        },
    }
)
IDS = ["a,1", 'say "hi"', "line\nbreak", "ünï", "cr\rx", " pad ", "007"]
FLOATS = [-0.0, 1e-05, 1e16, 0.1 + 0.2, 123456789.125, None, 2.5]
PLANS = ["pro", None, 'x,"y"', "é", "two\nlines", "plain", ""]


def columns(n: int, start: int = 0) -> list[list]:
    """n rows as the ingestion binds them (account, seats, spend, plan, renews, churned,
    acv): awkward texts and floats, missing optional values, some unlabelled rows."""
    span = range(start, start + n)
    return [
        [f"{IDS[i % len(IDS)]}-{i}" for i in span],
        [2**53 if i % 5 == 4 else i for i in span],
        [FLOATS[i % len(FLOATS)] for i in span],
        [PLANS[i % len(PLANS)] or None for i in span],
        [i % 2 for i in span],
        [None if i % 6 == 5 else (i // 2) % 2 for i in span],
        [1000.5 * i for i in span],
    ]


def commit(folder, name_columns: list[tuple[str, list[list]]]) -> tuple[int, store.Fresh]:
    """Commit one batch of sources (name, columns); returns the batch id and its Fresh,
    with the count of new rows the store found, as ingestion passes it."""
    sources = [
        (
            "file",
            {"name": n, "path": f"/in/{n}", "sha256": n, "status": "ingested"},
            zip(*c, strict=True),
        )
        for n, c in name_columns
    ]
    batch = store.commit_batch(folder, sources, {}, schema=SCHEMA)
    new = sum(entry["rows_new"] for _, entry, _ in sources)
    return batch, store.Fresh(batch, [c for _, c in name_columns], new)


def rebuilt(folder, schema=SCHEMA) -> bytes:
    """finaldata.csv as the store writes it from its own rows (the file deleted first)."""
    (folder / FINALDATA).unlink()
    store.refresh_exports(folder, schema)
    return (folder / FINALDATA).read_bytes()


def test_a_fresh_batch_is_written_as_the_store_would_write_it(tmp_path):
    """A first batch of two sources, then a batch of new rows, exact repeats of the first
    (and of itself) and unlabelled rows: each export written from the bound values equals
    the one written from the store, byte for byte."""
    batch, fresh = commit(tmp_path, [("a.csv", columns(30)), ("b.csv", columns(12, 30))])
    with connection(tmp_path) as db:
        assert fresh_span(db, fresh, None) is not None  # the values are used
    store.refresh_exports(tmp_path, SCHEMA, fresh)
    first = (tmp_path / FINALDATA).read_bytes()
    assert first == rebuilt(tmp_path)
    repeats = [c[20:30] + c[35:40] + c[35:40] for c in columns(42)]
    batch, fresh = commit(tmp_path, [("c.csv", columns(9, 50)), ("d.csv", repeats)])
    with connection(tmp_path) as db:
        span = fresh_span(db, fresh, 42)
    assert span is not None and len(span.repeats) == 20
    store.refresh_exports(tmp_path, SCHEMA, fresh)
    grown = (tmp_path / FINALDATA).read_bytes()
    assert grown.startswith(first) and grown == rebuilt(tmp_path)
    assert grown.count(b"-0.0,") and b'"line\nbreak-2"' in grown


def test_values_that_are_not_the_newest_rows_are_not_used(tmp_path):
    """A Fresh whose rows are not the store's newest observations (a later batch came
    after it), or that holds another count of rows, is ignored: the export reads the
    store, and still holds every row once."""
    batch, fresh = commit(tmp_path, [("a.csv", columns(10))])
    later, _ = commit(tmp_path, [("b.csv", columns(5, 10))])
    with connection(tmp_path) as db:
        assert fresh_span(db, fresh, None) is None
        wrong = store.Fresh(later, [columns(4, 10)])
        assert fresh_span(db, wrong, None) is None
    store.refresh_exports(tmp_path, SCHEMA, fresh)
    assert (tmp_path / FINALDATA).read_bytes() == rebuilt(tmp_path)


def test_an_ingestion_writes_its_rows_as_the_store_would(tmp_path):
    """Through ingestion itself (a CSV file read, validated and saved): finaldata.csv after
    each of two ingestions equals the export rebuilt from the store."""
    folder = make_workspace(tmp_path)
    config = load_config(folder / "config.json")
    out = config["output_folder_path"]
    ingestion.save_ingestion(out, ingestion.ingest_configured(config))
    assert (out / FINALDATA).read_bytes() == rebuilt(out, config["schema"])
    lines = (folder / "practicedata" / "dataset1.csv").read_text().splitlines()
    extra = [lines[0], *lines[1:6], "new1,5,100,3,1", "new2,7,140,2,0", "new2,7,140,2,0"]
    (folder / "practicedata" / "dataset3.csv").write_text("\n".join(extra) + "\n")
    ingestion.save_ingestion(out, ingestion.ingest_configured(config))
    text = (out / FINALDATA).read_bytes()
    assert text.count(b"new2,") == 1 and text == rebuilt(out, config["schema"])
