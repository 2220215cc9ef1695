"""store/fresh_text.py: a child process makes a fresh batch's export text while the parent
commits; the export is byte for byte the one the store would write, whether the child's
text is used, not wanted (repeats) or missing (the child failed)."""

from __future__ import annotations

import os
import signal

import pytest

from risk_assessment.core.common import FINALDATA
from risk_assessment.core.locking import remove_stale_temps
from risk_assessment.core.settings import load_config
from risk_assessment.sources import ingestion
from risk_assessment.store import records as store
from risk_assessment.store.files import columns_csv
from risk_assessment.store.fresh import FRESH_CHUNK, Fresh, Span, fresh_chunks
from risk_assessment.store.fresh_text import PARALLEL_ROWS, FreshText
from tests.conftest import make_workspace
from tests.store.test_fresh import SCHEMA, columns, rebuilt

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this system")


def commit(folder, name_columns, text: bool):
    """Commit one batch (name, columns) with a child making its text when asked; returns
    the Fresh the ingestion would pass, and the child (closed by the caller)."""
    sources_columns = [c for _, c in name_columns]
    child = FreshText.start(folder, sources_columns, SCHEMA, min_rows=1) if text else None
    sources = [("file", {"name": n, "path": f"/in/{n}", "sha256": n, "status": "ingested"},
                zip(*c, strict=True)) for n, c in name_columns]  # fmt: skip
    batch = store.commit_batch(folder, sources, {}, schema=SCHEMA)
    new = sum(entry["rows_new"] for _, entry, _ in sources)
    return store.Fresh(batch, sources_columns, new, child), child


def temps(folder) -> list:
    return sorted(folder.glob(f".{FINALDATA}.fresh-*.tmp"))


def test_the_childs_text_is_the_parents(tmp_path):
    """The child writes exactly the lines the parent would make of the labelled rows."""
    sources = [columns(40), columns(25, 40)]
    child = FreshText.start(tmp_path, sources, SCHEMA, min_rows=1)
    expected = b"".join(
        columns_csv(chunk, SCHEMA).encode()
        for chunk in fresh_chunks(Fresh(0, sources), Span(0, set()), SCHEMA, FRESH_CHUNK)
    )
    assert child.result() == expected and b'"line\nbreak-2"' in expected
    child.close()
    assert temps(tmp_path) == []
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # reaped


def test_exports_with_the_childs_text_are_the_stores(tmp_path):
    """A first batch (the child's text used), then a batch of repeats (the text not used:
    it holds the repeats): each export equals the one rebuilt from the store."""
    fresh, child = commit(tmp_path, [("a.csv", columns(30)), ("b.csv", columns(12, 30))], True)
    store.refresh_exports(tmp_path, SCHEMA, fresh)
    assert child.status == 0  # the text was waited for: used
    child.close()
    first = (tmp_path / FINALDATA).read_bytes()
    assert first == rebuilt(tmp_path)
    repeats = [c[20:30] + c[35:40] for c in columns(42)]
    fresh, child = commit(tmp_path, [("c.csv", columns(9, 50)), ("d.csv", repeats)], True)
    store.refresh_exports(tmp_path, SCHEMA, fresh)
    assert child.status is None  # never asked for: the repeats must be left out
    child.close()
    grown = (tmp_path / FINALDATA).read_bytes()
    assert grown.startswith(first) and grown == rebuilt(tmp_path)
    assert temps(tmp_path) == []


def test_a_failed_child_leaves_the_text_to_the_parent(tmp_path):
    """A child that fails (here: columns of unequal length) gives no text; the parent
    writes the rows itself and the export is still the store's."""
    broken = FreshText.start(tmp_path, [[["x"], []]], SCHEMA, min_rows=1)
    assert broken.result() is None and broken.status != 0
    broken.close()
    fresh, child = commit(tmp_path, [("a.csv", columns(20))], False)
    fresh.text = broken  # failed: its result is None
    store.refresh_exports(tmp_path, SCHEMA, fresh)
    assert (tmp_path / FINALDATA).read_bytes() == rebuilt(tmp_path)


def test_a_child_left_by_a_killed_parent_is_cleaned_up_by_the_next_writer(tmp_path):
    """The child's temp file is one of the half-written files the next holder of the
    writer lock removes (a parent killed with -9 never closes its child)."""
    child = FreshText.start(tmp_path, [columns(2000)], SCHEMA, min_rows=1)
    os.kill(child.pid, signal.SIGKILL)
    os.waitpid(child.pid, 0)
    assert temps(tmp_path) != []
    config = {"output_folder_path": tmp_path, "output_model_path": tmp_path / "m",
              "prod_deployment_path": tmp_path / "p"}  # fmt: skip
    remove_stale_temps(config)
    assert temps(tmp_path) == []


def test_few_rows_start_no_child(tmp_path):
    """Below min_rows the text is not worth a process."""
    assert FreshText.start(tmp_path, [columns(10)], SCHEMA, min_rows=11) is None
    assert temps(tmp_path) == []


def test_a_big_ingestion_exports_as_the_store_would(tmp_path):
    """Through ingestion (PARALLEL_ROWS rows and more: the child makes the text): the
    export equals the one rebuilt from the store, and no temp file is left."""
    folder = make_workspace(tmp_path)
    rows = [f"c{i},{i % 97},{i % 1013},{i % 7},{i % 3 % 2}" for i in range(PARALLEL_ROWS + 5)]
    header = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited"
    (folder / "practicedata" / "big.csv").write_text("\n".join([header, *rows]) + "\n")
    config = load_config(folder / "config.json")
    out = config["output_folder_path"]
    ingestion.save_ingestion(out, ingestion.ingest_configured(config))
    text = (out / FINALDATA).read_bytes()
    assert text.count(b"\n") == 1 + 40 + PARALLEL_ROWS + 5  # the workspace's 40, the big file
    assert text == rebuilt(out, config["schema"]) and temps(out) == []
