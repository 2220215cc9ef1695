"""Unit tests of settings.py: the config schema, defaults, ranges and paths (load_config)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from risk_assessment.core.common import CONFIG_ENV, ConfigError
from risk_assessment.core.settings import DEFAULTS, PATH_KEYS, load_config

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


# --- load_config -----------------------------------------------------------------------


def test_defaults_filled_for_original_five_keys(tmp_path):
    """A config with only the original five keys gets every other setting's default."""
    config = load_config(write_config(tmp_path, ORIGINAL_KEYS))
    assert config["ingestion"] == DEFAULTS["ingestion"]
    assert config["training"] == DEFAULTS["training"]
    assert config["config_file"] == tmp_path / "config.json"
    assert set(config) == set(DEFAULTS) | {"config_file", "schema"}


def test_calls_per_week_defaults_to_50(tmp_path):
    """The call list is sized to the team: 50 clients a week unless configured."""
    assert load_config(write_config(tmp_path, ORIGINAL_KEYS))["risk"]["calls_per_week"] == 50
    given = {**ORIGINAL_KEYS, "risk": {"calls_per_week": 12}}
    assert load_config(write_config(tmp_path, given))["risk"]["calls_per_week"] == 12


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
        ({"risk": {"calls_per_week": 0}}, r"risk\.calls_per_week = 0 is outside .*\[1, 100000\]"),
    ],
)
def test_out_of_range_setting_names_key_and_range(tmp_path, settings, message):
    """A number outside its range, or a choice not offered, is refused by name."""
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(tmp_path, settings))


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_a_number_setting_that_is_not_finite_is_refused_by_name(tmp_path, text):
    """Python's json reads NaN and Infinity; a setting of one (no range check holds for
    training.random_state) is refused by name, not carried into the run."""
    file = tmp_path / "config.json"
    file.write_text(f'{{"training": {{"random_state": {text}}}}}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"training: random_state must be a finite number"):
        load_config(file)


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


# --- consistency and the shipped config ----------------------------------------------


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

    from tests.conftest import ROOT, SHIPPED_CONFIG

    done = subprocess.run(
        ["git", "show", "HEAD:config.json"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"not a git checkout: {done.stderr.strip()}")
    assert json.loads(done.stdout) == SHIPPED_CONFIG
