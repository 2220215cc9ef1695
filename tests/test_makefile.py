"""The Makefile: help lists every target; test, test-slow, serve run what they say;
clean keeps the user's state; reset returns to the shipped state."""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.conftest import ROOT


def make(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    """Run make quietly; returns the finished process."""
    return subprocess.run(["make", "-s", *args], cwd=cwd, capture_output=True, text=True)


def test_help_lists_every_target_with_its_purpose():
    """Every .PHONY target has a one-line purpose in `make help`."""
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    listed = dict(
        re.match(r"\s+make (\S+)\s+(.+)", ln).groups() for ln in make("help").stdout.splitlines()
    )
    assert set(listed) == set(phony)
    assert all(len(purpose) > 10 for purpose in listed.values())


def test_test_targets_and_serve():
    """make test: -rs and not slow, a test file per worker, one BLAS thread per process;
    make test-slow: the slow ones; serve: gunicorn wsgi:app."""
    test = make("-n", "test").stdout
    assert '-m pytest -rs -m "not slow" -n auto --dist loadfile' in test
    assert "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1" in test
    assert "-n 0 " in make("-n", "test", "TEST_WORKERS=0").stdout
    assert "-m pytest -rs -m slow" in make("-n", "test-slow").stdout
    serve = make("-n", "serve", "PORT=8123").stdout
    assert ".venv/bin/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:8123" in serve
    assert "wsgi:app" in serve


def test_ci_runs_both_test_targets():
    """.ci/run calls make test and make test-slow."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "make test" in lines and "make test-slow" in lines


def test_clean_keeps_state_and_reset_removes_it(tmp_path):
    """clean: caches and reports go; data, models, deployments, history stay. reset: all go."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    keep = [
        "ingesteddata/finaldata.csv",
        "ingesteddata/runs.db",
        "ingesteddata/store.db",
        "practicemodels/trainedmodel.pkl",
        "production_deployment/versions/v0001/manifest.json",
        "practicedata/dataset1.csv",
        "config.json",
    ]
    rebuilt = ["practicemodels/summary_report.pdf", "models/risk_scores.csv", ".pytest_cache/x"]
    for name in keep + rebuilt + ["logs/cron.log"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert make("clean", cwd=tmp_path).returncode == 0
    assert all((tmp_path / n).exists() for n in keep + ["logs/cron.log"])
    assert not any((tmp_path / n).exists() for n in rebuilt)
    example = ["practicedata/a.csv", "ingesteddata/store.db", "production_deployment.key"]
    for name in ["config.json", *example]:
        (tmp_path / "examples" / "saas" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "examples" / "saas" / name).write_text("x")
    assert make("reset", "CRONTAB=true", cwd=tmp_path).returncode == 0
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "Makefile", "config.json", "examples/saas/config.json", "practicedata/dataset1.csv",
    ]  # fmt: skip


def test_demo_drift_copies_a_drifted_batch_and_runs_the_loop():
    """make demo-drift: sourcedata/dataset3.csv into practicedata/, then fullprocess.py."""
    lines = make("-n", "demo-drift").stdout.splitlines()
    copy = lines.index("cp sourcedata/dataset3.csv practicedata/dataset3.csv")
    assert lines[copy + 1].endswith("python fullprocess.py")


def test_reset_removes_the_demo_copy_only_when_unchanged(tmp_path):
    """reset deletes practicedata/dataset3.csv when it is the demo's copy, not a user's file."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in ("sourcedata/dataset3.csv", "practicedata/dataset3.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("same")
    assert make("reset", "CRONTAB=true", cwd=tmp_path).returncode == 0
    assert not (tmp_path / "practicedata/dataset3.csv").exists()
    (tmp_path / "practicedata/dataset3.csv").write_text("the user's own")
    assert make("reset", "CRONTAB=true", cwd=tmp_path).returncode == 0
    assert (tmp_path / "practicedata/dataset3.csv").exists()
