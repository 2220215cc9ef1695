"""Unit tests of common.py: config loading, atomic writes, hashes, new-file detection, models."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pickle
import shutil
from pathlib import Path

import pytest

from common import (
    CONFIG_ENV,
    ConfigError,
    ModelError,
    sha256_file,
    write_atomic,
)
from scoring import load_model_verified
from settings import DEFAULTS, PATH_KEYS, load_config
from sources import scan_input

ORIGINAL_KEYS = {
    "input_folder_path": "practicedata",
    "output_folder_path": "ingesteddata",
    "test_data_path": "testdata",
    "output_model_path": "practicemodels",
    "prod_deployment_path": "production_deployment",
}


def write_config(folder: Path, settings: dict, name: str = "config.json") -> Path:
    """Write settings as a JSON config file in folder; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def record_of(*paths: Path) -> dict:
    """An ingestion record that has already handled the given files' contents."""
    return {"files": [{"name": p.name, "sha256": sha256_file(p)} for p in paths], "runs": []}


class TouchOnUnpickle:
    """Pickles to a call of Path.touch(marker): unpickling it leaves a visible trace."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


# --- load_config -----------------------------------------------------------------------


def test_defaults_filled_for_original_five_keys(tmp_path):
    """A config with only the original five keys gets every other setting's default."""
    config = load_config(write_config(tmp_path, ORIGINAL_KEYS))
    assert config["ingestion"] == DEFAULTS["ingestion"]
    assert config["training"] == DEFAULTS["training"]
    assert config["config_file"] == tmp_path / "config.json"
    assert set(config) == set(DEFAULTS) | {"config_file"}


def test_partial_nested_settings_merge_with_defaults(tmp_path):
    """Giving one nested key keeps the defaults of its siblings and of other sections."""
    settings = {**ORIGINAL_KEYS, "training": {"C": 0.25, "scale_features": True}}
    config = load_config(write_config(tmp_path, settings))
    assert config["training"] == {**DEFAULTS["training"], "C": 0.25, "scale_features": True}
    assert config["ingestion"] == DEFAULTS["ingestion"]


def test_partial_ingestion_section_merges(tmp_path):
    """The ingestion section takes a given value and keeps the others' defaults."""
    config = load_config(write_config(tmp_path, {"ingestion": {"max_bad_row_share": 0.1}}))
    assert config["ingestion"]["max_bad_row_share"] == 0.1
    assert config["training"] == DEFAULTS["training"]


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({**ORIGINAL_KEYS, "input_folder": "x"}, "input_folder"),
        ({**ORIGINAL_KEYS, "training": {"learning_rate": 0.1}}, "learning_rate"),
        ({**ORIGINAL_KEYS, "ingestion": {"max_bad_rows": 3}}, "max_bad_rows"),
    ],
    ids=["top-level", "training", "ingestion"],
)
def test_unknown_key_is_rejected_by_name(tmp_path, settings, key):
    """An unknown key, top-level or nested, raises ConfigError naming it."""
    with pytest.raises(ConfigError, match=key):
        load_config(write_config(tmp_path, settings))


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"training": {"C": "high"}}, "C"),
        ({"training": {"scale_features": 1}}, "scale_features"),
        ({"training": {"max_iter": True}}, "max_iter"),
        ({"ingestion": {"max_bad_row_share": "half"}}, "max_bad_row_share"),
        ({"ingestion": 0.5}, "ingestion"),
        ({"input_folder_path": 3}, "input_folder_path"),
    ],
)
def test_wrong_type_is_rejected_by_name(tmp_path, settings, key):
    """A value of the wrong type raises ConfigError naming the key."""
    with pytest.raises(ConfigError, match=rf"\b{key}\b"):
        load_config(write_config(tmp_path, settings))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"training": {"C": 0}}, r"training\.C = 0 is outside the allowed range \(0\.0, "),
        ({"training": {"C": -1.0}}, r"training\.C = -1\.0 is outside the allowed range"),
        ({"training": {"max_iter": 0}}, r"max_iter = 0 is outside the allowed range \[1,"),
        ({"training": {"cv_folds": 1}}, r"cv_folds = 1 is outside the allowed range \[2, 20\]"),
        ({"ingestion": {"max_bad_row_share": 1.5}}, r"max_bad_row_share = 1\.5 is outside"),
        ({"model_drift": {"confidence": 95}}, r"model_drift\.confidence = 95 is outside"),
        ({"model_drift": {"min_batch_rows": -5}}, r"model_drift\.min_batch_rows = -5 is outside"),
        ({"training": {"transform": "sqrt"}}, r"training\.transform must be one of auto, raw, log"),
    ],
)
def test_out_of_range_setting_names_key_and_range(tmp_path, settings, message):
    """A number outside its range, or a choice not offered, is refused by name."""
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(tmp_path, settings))


def test_malformed_json_names_the_file(tmp_path):
    """A config that is not valid JSON raises ConfigError naming the file."""
    path = tmp_path / "broken.json"
    path.write_text('{"input_folder_path": "practicedata",', encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.json") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_json_that_is_not_an_object_is_rejected(tmp_path):
    """A JSON list instead of an object raises ConfigError naming the file."""
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ConfigError, match="list.json"):
        load_config(path)


def test_missing_config_file_names_the_file(tmp_path):
    """A config path that does not exist raises ConfigError naming the file."""
    path = tmp_path / "nowhere" / "config.json"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_relative_paths_resolve_against_config_folder(tmp_path, monkeypatch):
    """Relative *_path keys resolve against the config file's folder, not the cwd."""
    project = tmp_path / "project"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = write_config(project, {**ORIGINAL_KEYS, "output_model_path": "sub/../models"})
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("..") / "project" / "config.json")
    assert config["input_folder_path"] == project / "practicedata"
    assert config["output_model_path"] == project / "models"
    assert config["config_file"] == path
    assert all(config[key].is_absolute() for key in PATH_KEYS)


def test_absolute_path_key_is_kept(tmp_path):
    """An absolute *_path value is used as given."""
    data = tmp_path / "shared" / "data"
    config = load_config(write_config(tmp_path / "project", {"input_folder_path": str(data)}))
    assert config["input_folder_path"] == data


def test_env_var_is_used_without_explicit_path(tmp_path, monkeypatch):
    """With no path given, load_config reads the file named by $RISK_CONFIG."""
    path = write_config(tmp_path / "fromenv", {"training": {"C": 3.0}})
    monkeypatch.setenv(CONFIG_ENV, str(path))
    config = load_config()
    assert config["config_file"] == path
    assert config["training"]["C"] == 3.0


def test_explicit_path_beats_env_var(tmp_path, monkeypatch):
    """An explicit path wins over $RISK_CONFIG."""
    monkeypatch.setenv(CONFIG_ENV, str(write_config(tmp_path / "fromenv", {})))
    explicit = write_config(tmp_path / "explicit", {"training": {"C": 7.0}})
    config = load_config(explicit)
    assert config["config_file"] == explicit
    assert config["training"]["C"] == 7.0


# --- write_atomic ----------------------------------------------------------------------


def test_write_atomic_writes_text_and_bytes(tmp_path):
    """Text is written as UTF-8, bytes as given, creating the folder."""
    text_file = write_atomic(tmp_path / "out" / "a.txt", "héllo\n")
    bytes_file = write_atomic(tmp_path / "out" / "b.bin", b"\x00\x01")
    assert text_file.read_bytes() == "héllo\n".encode()
    assert bytes_file.read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path / "out")) == ["a.txt", "b.bin"]


def test_write_atomic_replaces_existing_file(tmp_path):
    """An existing file is replaced whole and no temp file is left behind."""
    target = tmp_path / "data.csv"
    target.write_text("old content that is longer than the new one\n", encoding="utf-8")
    write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert os.listdir(tmp_path) == ["data.csv"]


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    """A write that fails midway leaves the old file unchanged and no *.tmp file."""
    target = tmp_path / "data.csv"
    target.write_bytes(b"old\n")
    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # not bytes: the write into the temp file fails
    assert target.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["data.csv"]


# --- sha256_file -----------------------------------------------------------------------


def test_sha256_file_matches_hashlib(tmp_path):
    """The file hash equals hashlib's, whatever the chunk size."""
    payload = bytes(range(256)) * 50
    path = tmp_path / "blob.bin"
    path.write_bytes(payload)
    expected = hashlib.sha256(payload).hexdigest()
    assert sha256_file(path) == expected
    assert sha256_file(path, chunk=7) == expected


# --- find_new_files --------------------------------------------------------------------


def find_new_files(folder: Path, record: dict) -> list[Path]:
    """The new files of folder against a record's hashes and stamps (scan_input)."""
    entries = record["files"]
    stamps = {(e.get("path"), e.get("size"), e.get("mtime_ns")) for e in entries}
    return [path for path, _ in scan_input(folder, {e["sha256"] for e in entries}, stamps).new]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A folder with two small CSV files."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (folder / "b.csv").write_text("x\n2\n", encoding="utf-8")
    return folder


def test_find_new_files_skips_known_hashes(inbox):
    """Files whose content the record holds are not new; the others are, sorted by name."""
    (inbox / "c.csv").write_text("x\n3\n", encoding="utf-8")
    (inbox / "notes.txt").write_text("not a csv\n", encoding="utf-8")
    assert find_new_files(inbox, record_of(inbox / "a.csv")) == [inbox / "b.csv", inbox / "c.csv"]
    assert find_new_files(inbox, {"files": [], "runs": []}) == sorted(inbox.glob("*.csv"))


def test_renamed_copy_of_known_file_is_not_new(inbox):
    """A copy of a known file under another name is not new data."""
    record = record_of(inbox / "a.csv", inbox / "b.csv")
    shutil.copy(inbox / "a.csv", inbox / "a_copy.csv")
    assert find_new_files(inbox, record) == []


def test_changed_file_is_new(inbox):
    """A known file whose content changed in place is new again."""
    record = record_of(inbox / "a.csv", inbox / "b.csv")
    with open(inbox / "b.csv", "a", encoding="utf-8") as fh:
        fh.write("4\n")
    assert find_new_files(inbox, record) == [inbox / "b.csv"]


# --- load_model_verified ---------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path: Path) -> tuple[Path, str]:
    """A small skops model and its sha256."""
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    path = tmp_path / "trainedmodel.skops"
    path.write_bytes(skops.io.dumps(model))
    return path, sha256_file(path)


def test_verified_model_loads(model_file):
    """A file matching its recorded hash is loaded."""
    path, digest = model_file
    assert load_model_verified(path, digest).predict([[3.0]]).tolist() == [1]


def test_one_changed_byte_is_refused(model_file):
    """A file with one byte changed raises ModelError naming the path."""
    path, digest = model_file
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    path.write_bytes(bytes(payload))
    with pytest.raises(ModelError, match="refusing") as info:
        load_model_verified(path, digest)
    assert str(path) in str(info.value)


def test_truncated_model_is_refused(model_file):
    """A truncated file raises ModelError naming the path."""
    path, digest = model_file
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ModelError, match="refusing") as info:
        load_model_verified(path, digest)
    assert str(path) in str(info.value)


def test_a_pickle_never_runs_even_with_its_own_hash(model_file, tmp_path):
    """A malicious pickle is refused, with a wrong hash or its own: its payload never runs."""
    path, digest = model_file
    marker = tmp_path / "payload_ran"
    path.write_bytes(pickle.dumps(TouchOnUnpickle(marker)))
    with pytest.raises(ModelError, match="refusing"):
        load_model_verified(path, digest)
    with pytest.raises(ModelError, match="not a skops model"):
        load_model_verified(path, sha256_file(path))
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the payload is live: unpickled, it does run
    assert marker.exists()


class Untrusted:
    """A type that is not in TRUSTED_TYPES."""


def test_a_skops_file_with_an_untrusted_type_is_refused(tmp_path):
    """skops builds only the types listed in code: another type is refused by name."""
    import skops.io

    path = tmp_path / "trainedmodel.skops"
    path.write_bytes(skops.io.dumps({"model": Untrusted()}))
    with pytest.raises(ModelError, match="untrusted type.*Untrusted"):
        load_model_verified(path, sha256_file(path))


def test_the_coming_model_shape_loads(tmp_path):
    """FixedThresholdClassifier(Pipeline([log1p or passthrough, scaler or passthrough,
    LogisticRegression])) holds only trusted types and loads."""
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    x = np.arange(40, dtype=float).reshape(20, 2)
    y = (x[:, 0] > 18).astype(int)
    for transform, scale in [(FunctionTransformer(np.log1p), StandardScaler())] + [
        ("passthrough", "passthrough")
    ]:
        steps = [("transform", transform), ("scale", scale), ("model", LogisticRegression())]
        model = FixedThresholdClassifier(Pipeline(steps), threshold=0.3).fit(x, y)
        path = tmp_path / "trainedmodel.skops"
        path.write_bytes(skops.io.dumps(model))
        loaded = load_model_verified(path, sha256_file(path))
        assert loaded.predict(x).tolist() == model.predict(x).tolist()


def test_missing_model_names_the_path(tmp_path):
    """A missing model file raises ModelError naming the path."""
    path = tmp_path / "models" / "trainedmodel.pkl"
    with pytest.raises(ModelError) as info:
        load_model_verified(path, "0" * 64)
    assert str(path) in str(info.value)


def test_model_without_recorded_hash_is_refused(model_file):
    """No recorded hash means no load."""
    path, _ = model_file
    with pytest.raises(ModelError, match="sha256"):
        load_model_verified(path, None)


@pytest.mark.parametrize(
    "section, value, words",
    [
        ("risk", {"high": 0.2, "medium": 0.5}, "medium <= high"),
        ("model_drift", {"rule": "bayesian"}, "model_drift.rule"),
    ],
)
def test_inconsistent_settings_are_refused(tmp_path, section, value, words):
    """Band cut-offs out of order and an unknown drift rule are refused by name."""
    path = write_config(tmp_path, {section: value})
    with pytest.raises(ConfigError, match=words):
        load_config(path)


def test_fixture_config_is_the_committed_config_json():
    """The `shipped` fixture writes the config.json the repository ships (read from git,
    never from the checkout's file, which the user may have edited)."""
    import subprocess

    from conftest import ROOT, SHIPPED_CONFIG

    done = subprocess.run(
        ["git", "show", "HEAD:config.json"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"not a git checkout: {done.stderr.strip()}")
    assert json.loads(done.stdout) == SHIPPED_CONFIG


SCRIPTS = [
    "app.py", "apicalls.py", "deployment.py", "diagnostics.py", "fullprocess.py",
    "generate_data.py", "ingestion.py", "notify.py", "reporting.py", "scoring.py",
    "training.py", "wsgi.py",
]  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_python_without_the_packages_gets_one_line(script, tmp_path):
    """Run by a bare interpreter (no site-packages: no pandas), a script prints one line
    naming .venv/bin/python, no traceback, exit 1, and records no run."""
    import subprocess
    import sys

    from conftest import ROOT

    bare = getattr(sys, "_base_executable", None) or sys.executable
    done = subprocess.run(
        [bare, "-S", "-E", str(ROOT / script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{script}: ") and "lacks" in lines[0] and "pandas" in lines[0]
    assert str(ROOT / ".venv" / "bin" / "python") in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_the_environment_check_passes_here_and_costs_little():
    """In .venv nothing is missing, and the check takes milliseconds (no import)."""
    import time

    from common import check_environment

    start = time.perf_counter()
    check_environment()
    assert time.perf_counter() - start < 0.5
