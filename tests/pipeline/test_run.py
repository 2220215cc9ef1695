"""fullprocess.py, the cron job: drift and gate decisions, and whole runs on real files."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from risk_assessment.core.common import (
    FINALDATA,
    INGESTION_RECORD,
    MODEL_FILE,
    MODEL_SKOPS,
    ModelError,
)
from risk_assessment.core.locking import WriterLock
from risk_assessment.core.settings import DEFAULTS, load_config
from risk_assessment.deployment import versions as deployment
from risk_assessment.modelling import scoring, training
from risk_assessment.monitoring import statistics as monitoring
from risk_assessment.pipeline import run as fullprocess
from risk_assessment.reports import diagnostics
from risk_assessment.server.app import create_app
from risk_assessment.store import records as store
from tests.conftest import (
    FEATURES,  # the default schema's columns
    ROOT,
    configure,
    copy_shipped,
    deploy_workspace,
    run_script,
    small_rows,
    write_csv,
)

DRIFT = {**DEFAULTS["model_drift"], "rule": "raw"}  # significance required, 50 rows
HEAVY = ("pandas", "sklearn", "matplotlib")


def practice_batch(config: dict, name: str, rows: int, invert: bool = False) -> Path:
    """A new input file of practice rows under fresh ids (so none is a duplicate row)."""
    data = pd.read_csv(config["config_file"].parent / "practicedata" / "dataset1.csv").head(rows)
    data["corporation"] = [f"{Path(name).stem}-{i:05d}" for i in range(len(data))]
    if invert:
        data["exited"] = 1 - data["exited"]
    path = config["input_folder_path"] / name
    data.to_csv(path, index=False)
    return path


def versions(config: dict) -> list[str]:
    """The deployed version names."""
    return deployment.list_versions(config["prod_deployment_path"])


def history_count(config: dict) -> int:
    """Rows in runs.db (0 before the first recorded run)."""
    path = config["output_folder_path"] / store.STORE_FILE
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        db.close()


def cli(config: dict, *args: str):
    """Run fullprocess.py on config as cron does; returns CompletedProcess."""
    return run_script("fullprocess.py", "--config", str(config["config_file"]), *args)


@pytest.fixture
def practice(shipped: Path) -> dict:
    """The shipped data, offline, with v0001 deployed by a first run on the practice data."""
    config = configure(shipped)
    assert fullprocess.run_once(config).new_version == "v0001"
    return config


@pytest.fixture
def offline(workspace: Path) -> dict:
    """The small workspace's config, offline (closed index, no API server)."""
    return configure(workspace)


# ---- pure decisions ------------------------------------------------------------------------


def test_batch_below_min_rows_is_not_judged():
    """A batch smaller than min_batch_rows gives no drift verdict, and says why."""
    drift, why = monitoring.model_drift_decision(49, 0.0, (0.0, 0.1), 0.5, DRIFT)
    assert drift is None and "min_batch_rows" in why


@pytest.mark.parametrize(
    ("interval", "expected"), [((0.2, 0.49), True), ((0.2, 0.5), False), ((0.45, 0.7), False)]
)
def test_significant_drift_needs_the_whole_interval_below(interval, expected):
    """With require_significance, drift only when the interval lies entirely below."""
    drift, why = monitoring.model_drift_decision(100, 0.3, interval, 0.5, DRIFT)
    assert drift is expected and "raw rule" in why


@pytest.mark.parametrize(("f1", "expected"), [(0.49, True), (0.5, False), (0.8, False)])
def test_raw_drift_without_significance_compares_the_f1(f1, expected):
    """Without require_significance, drift when the batch F1 is below the threshold."""
    settings = {**DRIFT, "require_significance": False}
    drift, _ = monitoring.model_drift_decision(100, f1, (0.0, 1.0), 0.5, settings)
    assert drift is expected


@pytest.mark.parametrize(
    ("model_drift", "data_drift", "deployed", "data_retrains", "expected"),
    [
        (None, None, False, False, True),  # nothing deployed yet
        (True, False, True, False, True),  # model drift
        (False, True, True, False, False),  # data drift alone is only reported
        (False, True, True, True, True),  # ... unless data_drift.triggers_retraining
        (False, False, True, False, False),  # nothing drifted
        (None, None, True, False, False),  # batch too small to judge
    ],
)
def test_retrain_decision(model_drift, data_drift, deployed, data_retrains, expected):
    """Retrain without a deployment or on model drift; data drift only when configured."""
    retrain, why = monitoring.retrain_decision(model_drift, data_drift, deployed, data_retrains)
    assert retrain is expected and why


@pytest.mark.parametrize(
    ("new", "deployed", "force", "expected"),
    [
        (0.3, None, False, True),  # first deployment
        (0.5, 0.5, False, True),  # equal is no worse
        (0.4, 0.5, False, False),  # worse is refused
        (0.4, 0.5, True, True),  # ... unless forced
    ],
)
def test_gate_decision(new, deployed, force, expected):
    """The gate deploys a model no worse than the deployed one, or when forced."""
    ok, why = monitoring.gate_decision(new, deployed, force)
    assert ok is expected
    if deployed is None:
        assert why == "first deployment"
    if force and deployed is not None:
        assert "forced" in why


def test_drift_threshold_by_rule():
    """raw: the deployed F1; parametric: mean - 2 std; nonparametric: Q1 - 1.5 IQR."""
    assert scoring.drift_threshold(0.49, [0.6, 0.7, 0.8], "raw") == 0.49
    # mean 0.7, sample std (ddof=1) 0.1
    assert scoring.drift_threshold(0.49, [0.6, 0.7, 0.8], "parametric") == pytest.approx(0.5)
    # numpy's linear quantiles: Q1 0.6, Q3 0.9, IQR 0.3 -> 0.6 - 0.45
    past = [0.5, 0.6, 0.7, 0.9, 1.0]
    assert scoring.drift_threshold(0.49, past, "nonparametric") == pytest.approx(0.15)
    # Q1 0.175, Q3 0.325 (interpolated between scores)
    past = [0.1, 0.2, 0.3, 0.4]
    assert scoring.drift_threshold(0.49, past, "nonparametric") == pytest.approx(-0.05)


@pytest.mark.parametrize("rule", ["parametric", "nonparametric"])
def test_drift_threshold_falls_back_to_raw_with_few_scores(rule):
    """With fewer than 3 past scores there is no spread to measure: the raw rule applies."""
    assert scoring.drift_threshold(0.49, [0.6, 0.7], rule) == 0.49


def test_f1_interval_holds_the_f1_and_narrows_with_more_rows():
    """The bootstrap interval contains the point F1 and is narrower for a larger sample."""
    rng = np.random.default_rng(1)
    y = rng.random(200) < 0.4
    pred = np.where(rng.random(200) < 0.8, y, ~y)
    point = f1_score(y, pred)
    low, high = scoring.f1_interval(y, pred)
    assert low <= point <= high
    big_low, big_high = scoring.f1_interval(np.tile(y, 10), np.tile(pred, 10))
    assert big_low <= point <= big_high
    assert big_high - big_low < high - low


def test_psi_of_known_shares():
    """PSI is 0 for identical shares and sum((a - e) ln(a / e)) otherwise."""
    assert diagnostics.psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert diagnostics.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected)


def test_data_drift_flags_only_the_shifted_feature():
    """A feature multiplied by 10 drifts; the features drawn alike do not."""
    rng = np.random.default_rng(0)

    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({c: rng.lognormal(4, 1, n).round() for c in FEATURES})

    profile = training.feature_profile(frame(2000))
    new = frame(2000)
    new["lastyear_activity"] *= 10
    drift = diagnostics.data_drift(profile, new, max_drifted_share=0.5)
    assert drift["drifted_features"] == ["lastyear_activity"]
    assert drift["features"]["lastyear_activity"]["band"] == "significant"
    assert drift["features"]["lastmonth_activity"]["band"] == "none"
    assert drift["features"]["number_of_employees"]["band"] == "none"
    assert drift["drift"] is False  # 1 of 3 features is not more than half
    assert diagnostics.data_drift(profile, new, max_drifted_share=0.2)["drift"] is True


# ---- the whole story on the shipped data ---------------------------------------------------


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> SimpleNamespace:
    """The shipped data through three runs: practice data, source data, nothing new.

    Module-scoped (a copy of what the `shipped` fixture builds) so the runs are made once;
    the tests below only read it, and the rollback test works on a copy.
    """
    folder = copy_shipped(tmp_path_factory.mktemp("story"))
    practice = configure(folder)
    first = fullprocess.run_once(practice)
    source = configure(folder, input_folder_path="sourcedata", output_model_path="models")
    second = fullprocess.run_once(source)
    finaldata = (source["output_folder_path"] / FINALDATA).read_bytes()
    third = fullprocess.run_once(source)
    return SimpleNamespace(
        folder=folder,
        practice=practice,
        source=source,
        runs=[first, second, third],
        finaldata_before_noop=finaldata,
    )


def test_first_run_ingests_and_deploys_v0001(story):
    """With no deployment, the practice data is ingested and deployed as v0001, with reports."""
    run = story.runs[0]
    assert sorted(run.new_files) == ["dataset1.csv", "dataset2.csv", "dataset_current.csv"]
    assert run.decision == "deployed" and run.new_version == "v0001"
    assert run.reason == "first model: no model was deployed yet"  # said once
    models = story.practice["output_model_path"]
    assert (models / "summary_report.pdf").stat().st_size > 0
    assert (models / "confusionmatrix.png").stat().st_size > 0


def test_source_data_drifts_and_redeploys_v0002(story):
    """The source data shows model drift (a refit predicts it better, with a p-value); the
    candidate beats the deployed model on the batch's holdout and becomes v0002."""
    run = story.runs[1]
    assert run.new_files == ["dataset3.csv", "dataset4.csv"]
    assert run.deployed_version == "v0001"
    assert run.model_drift is True and run.batch_f1 < run.deployed_f1
    refit = run.verdict["refit"]
    assert refit["verdict"] and refit["effect"] > 0 and refit["low"] > 0 and refit["p_value"] < 0.05
    assert "log-loss deployed - refit" in run.reason and "holdout log-loss" in run.reason
    assert run.decision == "deployed" and run.new_version == "v0002"
    prod = story.source["prod_deployment_path"]
    v1 = json.loads((prod / "versions" / "v0001" / "manifest.json").read_text())
    assert run.new_f1 >= v1["f1"]
    assert set(run.data_drift_psi) == set(FEATURES)
    assert run.data_drift is not None and run.data_drift_share is not None
    assert (story.source["output_model_path"] / "summary_report.pdf").stat().st_size > 0
    caught = run.gate["holdout"]["caught"]  # people's numbers: exits each model flags
    assert caught["rows"] == run.gate["holdout_rows"] and 0 < caught["exits"] <= caught["rows"]
    assert caught["deployed"] < caught["candidate"] <= caught["exits"]


def test_run_without_new_data_is_a_noop(story):
    """Right after, a run finds no new data: no decision, no version, finaldata.csv unchanged."""
    run = story.runs[2]
    assert run.decision == "none" and run.reason == "no new data"
    assert run.new_files == [] and run.new_version is None
    assert versions(story.source) == ["v0001", "v0002"]
    finaldata = story.source["output_folder_path"] / FINALDATA
    assert finaldata.read_bytes() == story.finaldata_before_noop


def test_history_records_every_run(story):
    """runs.db has one row per run, the no-op included; --history prints them as a table."""
    rows = store.read_history(story.source["output_folder_path"])
    assert [r["decision"] for r in rows] == ["none", "deployed", "deployed"]
    assert [r["new_version"] for r in rows] == [None, "v0002", "v0001"]
    assert history_count(story.source) == 3
    done = cli(story.source, "--history")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["id", "started_at"] and len(lines) == 4
    assert "deployed" in done.stdout and "no new data" in done.stdout
    # the verdict with its numbers, whole: what was compared, on how many rows, the p-value
    deployed = next(line for line in lines if "v0002" in line)
    assert "log-loss deployed - refit" in deployed and "holdout log-loss" in deployed


def test_rollback_goes_live_for_a_running_api(story, tmp_path):
    """Rolling back v0002 makes v0001 live, for --list and an API created before it."""
    folder = tmp_path / "copy"
    shutil.copytree(story.folder, folder, symlinks=True)
    config = load_config(folder / "config.json")
    client = create_app(config).test_client()
    assert client.get("/version").get_json()["model_version"] == "v0002"
    done = run_script("deployment.py", "--config", str(config["config_file"]), "--rollback")
    assert done.returncode == 0, done.stderr
    assert deployment.current_version(config["prod_deployment_path"]) == "v0001"
    listed = run_script("deployment.py", "--config", str(config["config_file"]), "--list")
    live = [ln for ln in listed.stdout.splitlines() if ln.rstrip().endswith("*")]
    assert [ln.split()[0] for ln in live] == ["v0001"]
    assert client.get("/version").get_json()["model_version"] == "v0001"
    again = run_script("deployment.py", "--config", str(config["config_file"]), "--rollback")
    assert again.returncode == 1
    assert len(again.stderr.strip().splitlines()) == 1
    assert "nothing to roll back to" in again.stderr and "Traceback" not in again.stderr


# ---- single situations after a first deployment --------------------------------------------


def test_batch_without_drift_does_not_retrain(practice):
    """Practice-like rows the deployed model scores well on: no drift, no new version."""
    practice_batch(practice, "calm.csv", 300)
    run = fullprocess.run_once(practice)
    assert run.new_files == ["calm.csv"] and run.new_rows == 300
    assert run.model_drift is False and run.batch_f1 > run.deployed_f1
    assert run.decision == "no drift" and run.new_version is None
    assert versions(practice) == ["v0001"]


@pytest.mark.parametrize("force", [False, True])
def test_gate_refuses_a_candidate_no_better_on_the_holdout_unless_forced(shipped, force):
    """A covariate shift (the biggest practice clients, same relationship) retrains when
    data drift is set to retrain; no candidate beats the deployed model on the batch's
    held-out rows: refused and kept aside, or deployed when forced."""
    config = configure(
        shipped, deployment={"force": force}, data_drift={"triggers_retraining": True}
    )
    fullprocess.run_once(config)
    path = practice_batch(config, "big.csv", 2500)
    data = pd.read_csv(path)
    data.nlargest(800, "number_of_employees").to_csv(path, index=False)
    run = fullprocess.run_once(config)
    assert run.data_drift is True and run.model_drift is False
    assert "holdout log-loss" in run.reason and "not shown better" in run.reason
    refused = sorted((config["output_model_path"] / "refused").glob("*/refused.json"))
    if force:
        assert run.decision == "deployed" and versions(config) == ["v0001", "v0002"]
        assert "forced" in run.reason and refused == []
    else:
        assert run.decision == "refused" and versions(config) == ["v0001"]
        assert len(refused) == 1
        assert "holdout" in json.loads(refused[0].read_text())["reason"]
        assert (refused[0].parent / MODEL_FILE).is_file()


def test_gate_deploys_a_new_regime_the_old_test_data_would_refuse(shipped):
    """Inverted labels (a new regime): the refit test calls drift, the candidate trained on
    the recent rows wins on the batch's holdout and goes live, although its F1 on the old
    test data is far below the deployed model's (the old gate would have refused it)."""
    config = configure(shipped)
    fullprocess.run_once(config)
    practice_batch(config, "inverted.csv", 2000, invert=True)
    run = fullprocess.run_once(config)
    assert run.model_drift is True and run.verdict["refit"]["p_value"] < 0.001
    assert run.new_f1 < run.deployed_f1  # the old test data prefers the old world
    assert run.decision == "deployed" and versions(config) == ["v0001", "v0002"]
    assert "candidate 'recent'" in run.reason
    model, _ = deployment.load_deployed(config["prod_deployment_path"])
    inverted = pd.read_csv(config["input_folder_path"] / "inverted.csv")
    assert f1_score(inverted["exited"], model.predict(inverted[FEATURES])) > 0.6


def test_tiny_batch_is_too_small_to_call_drift(practice):
    """A 5-row batch gets no drift verdict and no retraining."""
    practice_batch(practice, "tiny.csv", 5)
    run = fullprocess.run_once(practice)
    assert run.model_drift is None and "min_batch_rows" in run.reason
    assert run.decision == "no drift" and versions(practice) == ["v0001"]
    assert run.data_drift is None and set(run.data_drift_psi) == set(FEATURES)  # PSI reported


def test_dry_run_changes_nothing(practice):
    """--dry-run on drifted data says it would retrain and leaves every artifact as it was."""
    for name in ("dataset3.csv", "dataset4.csv"):
        shutil.copy(
            practice["config_file"].parent / "sourcedata" / name, practice["input_folder_path"]
        )
    output = practice["output_folder_path"]
    watched = [output / FINALDATA, output / INGESTION_RECORD, output / "ingestedfiles.txt"]
    before = [p.read_bytes() for p in watched]
    runs_before = history_count(practice)
    done = cli(practice, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would retrain" in done.stderr
    assert [p.read_bytes() for p in watched] == before
    assert history_count(practice) == runs_before
    assert versions(practice) == ["v0001"]


def test_broken_deployment_is_reported_not_replaced(offline):
    """A corrupted live model: one ERROR line, exit 1, no new version, an "error" row."""
    deploy_workspace(offline)
    model = offline["prod_deployment_path"] / "versions" / "v0001" / MODEL_SKOPS
    model.write_bytes(model.read_bytes()[:-10])
    write_csv(offline["input_folder_path"] / "dataset3.csv", small_rows(30, 200))
    done = cli(offline)
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.splitlines() if " ERROR " in ln]
    assert len(errors) == 1 and "refusing" in errors[0]
    assert "Traceback" not in done.stderr
    assert versions(offline) == ["v0001"]
    last = store.read_history(offline["output_folder_path"], 1)[0]
    assert last["decision"] == "error" and "refusing" in last["error"]


def test_log_goes_to_the_rotating_file(offline):
    """A run from the command line writes its decision to output_folder/fullprocess.log."""
    done = cli(offline)
    assert done.returncode == 0, done.stderr
    log = (offline["output_folder_path"] / "fullprocess.log").read_text()
    assert any(" INFO deployed: " in ln and "(now v0001)" in ln for ln in log.splitlines())


# ---- locking -------------------------------------------------------------------------------


def test_run_exits_while_another_holds_the_lock(offline):
    """A held lock makes a run exit 0 without ingesting; once released, a run ingests."""
    lock = WriterLock(offline["output_folder_path"], "test")
    assert lock.acquire()
    try:
        done = cli(offline)
    finally:
        lock.release()
    assert done.returncode == 0, done.stderr
    assert "another run holds the lock" in done.stderr
    assert not (offline["output_folder_path"] / FINALDATA).exists()
    done = cli(offline)
    assert done.returncode == 0, done.stderr
    assert (offline["output_folder_path"] / FINALDATA).exists()


def test_two_runs_at_once_deploy_once(shipped):
    """Two runs started together: both exit 0, one deployment, each file ingested once."""
    config = configure(shipped)
    command = [sys.executable, str(ROOT / "fullprocess.py"), "--config", str(config["config_file"])]
    procs = [
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [(p.communicate(timeout=300), p.returncode) for p in procs]
    assert [code for _, code in results] == [0, 0], [err for (_, err), _ in results]
    assert versions(config) == ["v0001"]
    record = json.loads((config["output_folder_path"] / INGESTION_RECORD).read_text())
    names = ["dataset1.csv", "dataset2.csv", "dataset_current.csv"]
    assert sorted(e["name"] for e in record["files"]) == names


def test_killed_runs_stale_lock_is_taken_over(offline):
    """A run killed with -9 leaves the lock file; the next run takes it over and ingests."""
    output = offline["output_folder_path"]
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from risk_assessment.core.locking import WriterLock
        assert WriterLock(Path({str(output)!r}), 'holder').acquire()
        print("locked", flush=True)
        time.sleep(120)
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    lock_file = output / WriterLock.FILE
    assert lock_file.read_text().startswith(f"holder pid {holder.pid} ")
    done = cli(offline)
    assert done.returncode == 0, done.stderr
    assert "took over a stale lock" in done.stderr
    assert (output / FINALDATA).exists()


def test_nothing_new_imports_no_heavy_module(offline):
    """After a completed run, a cron tick with nothing new imports no pandas/sklearn/matplotlib."""
    fullprocess.run_once(offline)
    code = textwrap.dedent(
        f"""
        import sys
        sys.argv = ["fullprocess.py", "--config", {str(offline["config_file"])!r}]
        import fullprocess
        code = fullprocess.main()
        print(code, [m for m in {HEAVY!r} if m in sys.modules])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0 []"
    assert store.read_history(offline["output_folder_path"], 1)[0]["reason"] == "no new data"


# ---- bugs ----------------------------------------------------------------------------------


def repeat_with_new_rows(config: dict, new: int) -> None:
    """A new input file holding dataset1.csv again plus `new` rows never seen before."""
    folder = config["config_file"].parent / "practicedata"
    old = pd.read_csv(folder / "dataset1.csv")
    extra = old.head(new).assign(corporation=[f"extra-{i:03d}" for i in range(new)])
    pd.concat([old, extra]).to_csv(config["input_folder_path"] / "dataset1b.csv", index=False)


def test_record_counts_only_the_new_rows_of_a_repeating_file(practice):
    """A file repeating ingested rows: its record entry counts only its new rows."""
    repeat_with_new_rows(practice, 5)
    fullprocess.run_once(practice)
    record = json.loads((practice["output_folder_path"] / INGESTION_RECORD).read_text())
    assert record["runs"][-1]["rows_new"] == 5
    assert record["files"][-1]["name"] == "dataset1b.csv"
    assert record["files"][-1]["rows_new"] == 5


def test_drift_is_judged_on_new_rows_only(practice):
    """A file repeating ingested rows plus 5 new ones is a 5-row batch: too small to judge."""
    repeat_with_new_rows(practice, 5)
    run = fullprocess.run_once(practice)
    assert run.new_rows == 5
    assert run.model_drift is None and "min_batch_rows" in run.reason


def test_batch_of_a_failed_run_is_checked_after_repair(offline):
    """A batch a run could not check (broken deployment) is checked once the model is repaired."""
    deploy_workspace(offline)
    model = offline["prod_deployment_path"] / "versions" / "v0001" / MODEL_SKOPS
    good = model.read_bytes()
    model.write_bytes(good[:-10])
    write_csv(offline["input_folder_path"] / "dataset3.csv", small_rows(30, 200))
    with pytest.raises(ModelError, match="refusing"):
        fullprocess.run_once(offline)
    model.write_bytes(good)
    run = fullprocess.run_once(offline)
    assert run.reason != "no new data"
    assert run.new_files == ["dataset3.csv"] and run.deployed_version == "v0001"


def test_batch_without_exits_is_not_judged(practice):
    """A batch where nobody exited has no defined F1: no drift verdict, no retraining."""
    path = practice_batch(practice, "stayers.csv", 600)
    data = pd.read_csv(path)
    data[data["exited"] == 0].to_csv(path, index=False)
    run = fullprocess.run_once(practice)
    assert run.model_drift is None and "no exits" in run.reason
    assert run.decision == "no drift" and versions(practice) == ["v0001"]


def test_failure_after_deploying_keeps_the_decision(practice):
    """If reporting fails after a deployment, the run is 'deployed' with an error, exit 1."""
    practice_batch(practice, "inverted.csv", 2000, invert=True)
    forced = configure(practice["config_file"].parent, deployment={"force": True})
    plot = forced["output_model_path"] / "confusionmatrix.png"
    plot.unlink()
    plot.mkdir()  # reporting cannot replace a folder with its plot
    (plot / "keep").write_text("x")
    done = cli(forced)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    last = store.read_history(forced["output_folder_path"], 1)[0]
    assert last["decision"] == "deployed" and last["new_version"] == "v0002"
    assert "after deploying v0002" in last["error"]


# ---- current clients and unlabelled rows ---------------------------------------------------


def test_unlabelled_clients_are_ranked_and_exited_clients_are_not(practice):
    """The shipped run stores dataset_current.csv's 1,000 clients as unlabelled
    observations; the risk list ranks them with their newest values, and no client whose
    latest observation says exited = 1 is in it."""
    from risk_assessment.reports import risk

    observations = pd.read_csv(
        practice["config_file"].parent / "practicedata" / "dataset_current.csv",
        dtype={"corporation": str},
    )
    table = risk.read_people_csv(practice["output_model_path"] / risk.RISK_CSV)
    listed = set(table["corporation"])
    assert set(observations["corporation"]) <= listed
    rows = store.all_observations(practice["output_folder_path"])
    latest = {r[1]: r for r in rows}  # the last observation to arrive wins
    exited = {c for c, r in latest.items() if r[-1] == 1}
    assert exited and not (exited & listed)
    assert len(listed) == sum(1 for r in latest.values() if r[-1] != 1)
    # ranked with the newest values: the current file's, not the older labelled row's
    one = observations.iloc[0]
    assert latest[one["corporation"]][2] == one["lastmonth_activity"]


def test_new_clients_of_a_batch_without_drift_reach_the_risk_list(practice):
    """After a batch that retrains nothing, its new clients are in risk_scores.csv."""
    from risk_assessment.reports import risk

    path = practice_batch(practice, "calm.csv", 300)
    run = fullprocess.run_once(practice)
    assert run.decision == "no drift" and versions(practice) == ["v0001"]
    table = risk.read_people_csv(practice["output_model_path"] / risk.RISK_CSV)
    new = pd.read_csv(path)
    stayers = set(new.loc[new["exited"] == 0, "corporation"])
    assert stayers <= set(table["corporation"])
