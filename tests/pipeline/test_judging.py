"""judging.py: the live model a batch is judged against, when the schema changed."""

from __future__ import annotations

import logging

from risk_assessment.core.columns import DEFAULT_SCHEMA
from risk_assessment.deployment import versions as deployment
from risk_assessment.pipeline import run as fullprocess
from tests.conftest import COLUMNS, configure, small_rows, write_csv


def test_a_schema_changed_under_the_live_model_is_retrained_by_the_next_batch(workspace, caplog):
    """A feature added to the schema after v0001: a tick without new data warns, naming
    the column (before: "no new data" while the API answered 503); the next batch trains
    and deploys v0002 on the new columns (before: every run failed, "retrain it (python
    training.py)", and training.py alone changed nothing deployed)."""
    config = configure(workspace)
    assert fullprocess.run_once(config).new_version == "v0001"
    schema = DEFAULT_SCHEMA.to_dict()
    schema["features"]["segment"] = {"type": "category", "required": False}
    config = configure(workspace, schema=schema)
    with caplog.at_level(logging.WARNING, logger="fullprocess"):
        idle = fullprocess.run_once(config)
    assert idle.decision == "none"
    assert "deployed model v0001" in caplog.text and "(segment differ)" in caplog.text
    header = ",".join([*COLUMNS[:-1], "segment", COLUMNS[-1]])
    rows = [(*r[:-1], ["north", "south"][i % 2], r[-1]) for i, r in enumerate(small_rows(30, 300))]
    write_csv(config["input_folder_path"] / "dataset3.csv", rows, header=header)
    run = fullprocess.run_once(config)
    assert run.decision == "deployed" and run.new_version == "v0002"
    # the reason names the change (it read "first model: no model was deployed yet")
    assert run.reason.startswith("the schema changed: deployed model v0001"), run.reason
    assert "(segment differ)" in run.reason and "first model" not in run.reason
    from risk_assessment.reports import plain
    from risk_assessment.store import records as store

    runs = store.read_history(config["output_folder_path"])
    words = plain.decision_words({"version": "v0002", "deployed_at": run.started_at}, runs)
    assert "the schema changed" in words and "first model" not in words, words
    prod, key = config["prod_deployment_path"], config["deployment"]["signing_key_path"]
    _, manifest = deployment.load_deployed(prod, key, config["schema"])  # no SchemaChanged
    assert manifest["version"] == "v0002"


def test_a_batch_too_small_to_judge_says_its_count_once(workspace):
    """A batch of 5 labelled rows (below model_drift.min_batch_rows): the reason reads
    '5 labelled rows: below ...: too few to judge' (it read '5 labelled rows: 5 labelled
    rows, below ...')."""
    config = configure(workspace)
    assert fullprocess.run_once(config).new_version == "v0001"
    write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(5, 300))
    reason = fullprocess.run_once(config).reason
    assert "5 labelled rows: below model_drift.min_batch_rows (50): too few" in reason, reason
    assert "labelled rows: 5 labelled rows" not in reason
