"""store/lookups.py: the read-only counts the pages show; here the stored rows that the
current schema cannot train on, and the columns why."""

from __future__ import annotations

import json
from pathlib import Path

from risk_assessment.core.settings import load_config
from risk_assessment.sources import ingestion
from risk_assessment.store import lookups
from risk_assessment.store import records as store
from tests.conftest import configure, small_rows, write_csv

TENURE_HEADER = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,tenure,exited"


def with_features(workspace: Path, **features: dict) -> dict:
    """The workspace's config with the course's features changed or added; loaded."""
    config = configure(workspace)
    spec = json.loads((workspace / "config.json").read_text(encoding="utf-8"))
    schema = config["schema"].to_dict()
    schema["features"] = {**schema["features"], **features}
    (workspace / "config.json").write_text(json.dumps({**spec, "schema": schema}), "utf-8")
    return load_config(workspace / "config.json")


def test_none_before_the_first_ingestion_and_none_under_one_schema(config):
    """No store yet: zero; the course's rows under the course's schema: zero."""
    folder = config["output_folder_path"]
    assert lookups.not_trained(folder, config["schema"]) == {"rows": 0, "columns": []}
    ingestion.run_ingestion(config)
    assert lookups.not_trained(folder, config["schema"]) == {"rows": 0, "columns": []}


def test_an_optional_feature_made_required_names_it_for_the_rows_without_a_value(workspace):
    """tenure stored as optional (6 of 30 rows empty), then required: those 6 rows are
    not trained on, and tenure is why; the course's 40 rows lack it too."""
    optional = with_features(workspace, tenure={"type": "integer", "required": False})
    rows = [(*r[:4], "" if i % 5 == 0 else 2, r[4]) for i, r in enumerate(small_rows(30, 300))]
    write_csv(workspace / "practicedata" / "dataset3.csv", rows, TENURE_HEADER)
    ingestion.run_ingestion(optional)
    folder = optional["output_folder_path"]
    assert lookups.not_trained(folder, optional["schema"]) == {"rows": 0, "columns": []}
    required = with_features(workspace, tenure={"type": "integer"})
    held = lookups.not_trained(folder, required["schema"])
    assert held == {"rows": 40 + 6, "columns": ["tenure"]}
    assert store.unusable_rows(folder, required["schema"]) == (held["rows"], held["columns"])


def test_a_feature_of_another_type_is_named(config, workspace):
    """number_of_employees stored as an integer, then declared a category: every stored
    row is kept and not trained on, and the column is named."""
    ingestion.run_ingestion(config)
    changed = with_features(workspace, number_of_employees={"type": "category"})
    held = lookups.not_trained(config["output_folder_path"], changed["schema"])
    assert held == {"rows": 40, "columns": ["number_of_employees"]}
