"""End to end on a copy of the shipped data: ingest, train, score, deploy."""

from __future__ import annotations

import json

import pytest

from risk_assessment.core.settings import load_config
from risk_assessment.deployment import versions as deployment
from risk_assessment.modelling import scoring, training
from risk_assessment.schema import dataset
from risk_assessment.sources import ingestion
from tests.conftest import run_script

# What the generator implies (measured with the default config): the practice model
# scores F1 0.488 on the mixed test data, and about 0.33 on the drifted source data.
F1_RANGE = (0.42, 0.56)


def test_pipeline_on_shipped_practice_data(shipped):
    """The four stages in order on the shipped data produce a verified deployment."""
    config = load_config(shipped / "config.json")
    result = ingestion.run_ingestion(config)
    names = ["dataset1.csv", "dataset2.csv", "dataset_current.csv"]
    assert sorted(f.entry["name"] for f in result.ingested) == names
    assert result.metrics["rows_read"] == 6000
    assert result.metrics["rows_unlabelled"] == 1000  # current clients, exited unknown
    assert result.metrics["rows_total"] == 4960  # the 40 shipped duplicates are dropped
    meta = training.run_training(config)
    assert meta["rows"] == 4960
    scores = scoring.run_scoring(config)
    assert F1_RANGE[0] <= scores["f1"] <= F1_RANGE[1]
    assert scores["roc_auc"] > 0.7
    version = deployment.deploy(config)
    model, manifest = deployment.load_deployed(config["prod_deployment_path"])
    assert version == manifest["version"] == "v0001"
    assert manifest["f1"] == scores["f1"]
    on_source = scoring.score_model(
        model, dataset.load_dataset(shipped / "sourcedata" / "dataset3.csv")
    )
    assert on_source["f1"] < scores["f1"] - 0.1  # the shipped source data has drifted


# the four scripts as commands on the shipped data, about 8 s: run by make test-slow
@pytest.mark.slow
def test_scripts_from_another_directory(shipped, tmp_path_factory):
    """The four scripts run as commands from elsewhere (as cron does) with RISK_CONFIG."""
    elsewhere = tmp_path_factory.mktemp("home")
    env = {"RISK_CONFIG": str(shipped / "config.json")}
    for script in ("ingestion.py", "training.py", "scoring.py", "deployment.py"):
        done = run_script(script, cwd=elsewhere, env=env)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    prod = shipped / "production_deployment"
    assert float((prod / "latestscore.txt").read_text()) > F1_RANGE[0]
    record = json.loads((shipped / "ingesteddata" / "ingestion_record.json").read_text())
    assert [e["status"] for e in record["files"]] == ["ingested"] * 3
    assert list(elsewhere.iterdir()) == []
