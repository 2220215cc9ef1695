"""training.contacted_labels: labels that arrived after a manager spoke to the client are
kept (default) or left out of training (a call may have changed the outcome)."""

from __future__ import annotations

import json

from risk_assessment.core.settings import load_config
from risk_assessment.modelling import training
from risk_assessment.store import accounts as rows
from risk_assessment.store import records as store
from tests.server.test_admin import list_then_label


def test_contacted_labels_are_marked_and_left_out_only_when_asked(deployed):
    """200 listed clients labelled later, 100 of them reached in between: the store marks
    those 100 labels; "keep" trains on all, "leave_out" on the others."""
    folder = deployed["output_folder_path"]
    before = len(store.training_rows(folder))
    list_then_label(folder)
    marked = rows.contacted_label_seqs(folder)
    assert len(marked) == 100
    corporations = {r[1] for r in store.training_rows(folder) if r[0] in marked}
    assert corporations == {f"n{i:03d}" for i in range(0, 200, 2)}  # the reached ones
    assert training.run_training(deployed)["rows"] == before + 200
    path = deployed["config_file"]
    given = json.loads(path.read_text())
    given["training"] = {"contacted_labels": "leave_out"}
    path.write_text(json.dumps(given))
    assert training.run_training(load_config(path))["rows"] == before + 100
