"""scientist.py: the data scientist's facts."""

from __future__ import annotations

import pandas as pd

from risk_assessment.reports import scientist
from risk_assessment.sources import ingestion
from tests.conftest import configure


def test_the_latest_labelled_rows_name_their_run(workspace):
    """A recorded run reads 'run 7'; the run in progress (reporting.with_current_run names
    it 'this run') reads 'this run' (before: 'the new rows of run this run')."""
    config = configure(workspace)
    batch = ingestion.run_ingestion(config).batch_id
    runs = [{"id": "this run", "batch_id": batch, "batch_f1": 0.5}]
    what, rows = scientist.latest_labelled(config, runs, pd.DataFrame())
    assert what == f"the new rows of this run ({len(rows)} labelled)" and len(rows) == 40
    runs = [{"id": 7, "batch_id": batch, "batch_f1": 0.5}]
    what, _ = scientist.latest_labelled(config, runs, pd.DataFrame())
    assert what == "the new rows of run 7 (40 labelled)"
