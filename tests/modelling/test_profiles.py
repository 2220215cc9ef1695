"""modelling/profiles.py: the training profiles saved with a model are the same whether a
child made them while the model was fitted (a big training set) or the parent did."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_assessment.core.common import FINALDATA, ModelError
from risk_assessment.core.settings import load_config
from risk_assessment.modelling import training
from risk_assessment.modelling.profiles import profiles
from risk_assessment.schema.dataset import load_dataset
from risk_assessment.sources import ingestion
from tests.conftest import make_workspace


def test_a_big_training_sets_profiles_are_the_parents(tmp_path):
    """FORK_ROWS rows and more: the metadata's profiles (made by a child) equal the ones
    computed in this process from the same training set."""
    folder = make_workspace(tmp_path)
    rows = [f"c{i},{i % 97},{i % 1013},{1 + i % 7},{int(i % 97 < 20)}"
            for i in range(training.FORK_ROWS)]  # fmt: skip
    header = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited"
    (folder / "practicedata" / "big.csv").write_text("\n".join([header, *rows]) + "\n")
    config = load_config(folder / "config.json")
    ingestion.save_ingestion(config["output_folder_path"], ingestion.ingest_configured(config))
    metadata = training.run_training(config)
    data = load_dataset(config["output_folder_path"] / FINALDATA, config["schema"])
    expected = json.loads(json.dumps(profiles(data, config["schema"])))
    assert metadata["rows"] >= training.FORK_ROWS
    assert json.loads(json.dumps(metadata["typed_profile"])) == expected["typed_profile"]
    assert json.loads(json.dumps(metadata["profile"])) == expected["profile"]


def children() -> set[int]:
    """The pids of this process's children, running or exited but not reaped (Linux)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_a_failed_fit_leaves_no_child(tmp_path):
    """The fit fails (one class only): the child making the profiles is stopped and
    reaped, not left behind."""
    n = training.FORK_ROWS
    data = pd.DataFrame({"corporation": [f"c{i}" for i in range(n)],
                         "lastmonth_activity": np.arange(n) % 50,
                         "lastyear_activity": np.arange(n) % 700,
                         "number_of_employees": 1 + np.arange(n) % 9,
                         "exited": np.zeros(n, dtype=int)})  # fmt: skip
    config = load_config(make_workspace(tmp_path) / "config.json")
    before = children()
    with pytest.raises(ModelError, match="every row"):
        training.fit_beside_profiles(data, config["training"], "data", config["schema"])
    assert children() <= before  # none new, running or finished (a zombie is listed too)
