"""The settings: every config.json key with its default, allowed values and ranges, and
the one loader every script's main() calls (load_config).

A bottom helper (standard library and common.py). The loader fills defaults, rejects
unknown keys and wrong types with a message naming them, checks ranges and choices, and
resolves paths relative to the config file, so scripts work from any folder.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

from risk_assessment.core.common import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    SQLITE_PREFIX,
    ConfigError,
    sqlite_file,
)

from risk_assessment.core.columns import parse_schema

# Every setting with its default. The five path keys are the original project's.
DEFAULTS: dict[str, Any] = {
    "input_folder_path": "practicedata",  # folder of new *.csv files to ingest
    "output_folder_path": "ingesteddata",  # finaldata.csv + ingestion record
    "test_data_path": "testdata",  # folder holding testdata.csv (or the file itself)
    "output_model_path": "practicemodels",  # trained model, scores, reports
    "prod_deployment_path": "production_deployment",  # versioned deployed models
    "input_database": {
        # SQLAlchemy URL; empty: no database source. sqlite:///clients.db is relative to
        # the config file's folder; PostgreSQL/MySQL need their driver installed
        "url": "",
        "table": "client_activity",
        "query": "",  # a SELECT to read instead of the table (must include the watermark)
        "watermark_column": "id",  # increasing id or timestamp: rows above it are new
        "chunk_rows": 50_000,  # rows read per chunk
    },
    "ingestion": {
        # a file with a larger share of bad rows is rejected whole: it is more likely
        # a wrong export than a few bad records
        "max_bad_row_share": 0.5,
        # a file modified within this many seconds may still be being written: ingestion
        # waits until it is this old and looks again; if it changed, it is left for the
        # next tick (a cut-off last line can be a valid, wrong row)
        "settle_seconds": 5.0,
    },
    "lock": {
        # a hand run of a script waits this long for a running job to finish, then says
        # so and exits 1; the cron job never waits (the next tick comes soon enough)
        "wait_seconds": 30.0,
    },
    "retention": {
        # deployed versions kept (the live and the previous one are always kept)
        "keep_versions": 20,
        "keep_refused": 20,  # refused models kept for inspection
        "history_days": 365.0,  # run history older than this is deleted
    },
    "training": {
        # lbfgs on standardized features: C = 1 barely penalizes thousands of rows, so the
        # probabilities stay calibrated (liblinear also penalizes the intercept)
        "solver": "lbfgs",
        "C": 1.0,
        "max_iter": 1000,
        "random_state": 0,  # also seeds the cross-validation folds
        "scale_features": True,  # StandardScaler in front (makes C mean the same per feature)
        "transform": "auto",  # raw counts, log1p of them, or auto: lower CV log-loss (README)
        "tune_threshold": True,  # cut-off that maximizes out-of-fold F1, stored in the model
        "cv_folds": 5,  # folds for the transform choice and the cut-off
        "min_rows": 10,  # fewer rows than this is not a model worth deploying
        # labels that arrived after a manager spoke to the client: a call may have changed
        # the outcome, so "leave_out" trains without them; "keep" trains on every label
        "contacted_labels": "keep",
    },
    "diagnostics": {
        "package_index_url": "https://pypi.org/pypi",  # PyPI's JSON API, or a mirror's
        "index_timeout_seconds": 3.0,  # per look-up; look-ups run in parallel
        "cache_hours": 24.0,  # the dependency table is refreshed at most daily
    },
    "model_drift": {
        # refit: drift when a model refit on the batch (cross-fitted) predicts it better
        # than the deployed one (paired per-row log-loss, one-sided at alpha), or when the
        # observed exit rate is off the predicted one (calibration_alpha). The original
        # rules compare F1: raw (below the deployed F1), parametric / nonparametric
        # (below mean - 2 std / Q1 - 1.5 IQR of past deployed F1s)
        "rule": "refit",
        "alpha": 0.05,  # level of the refit test (measured: benchmarks/bench_detection.py)
        "calibration_alpha": 0.01,  # level of the exit-rate test
        "require_significance": True,  # F1 rules: the whole bootstrap interval below
        "confidence": 0.95,  # of the bootstrap interval of the batch's F1
        "min_batch_rows": 50,  # fewer labelled rows: too few to judge
    },
    "data_drift": {
        "max_drifted_share": 0.5,  # dataset drift: more than this share of features
        "triggers_retraining": False,  # data drift alone does not retrain (README)
    },
    "gate": {
        # a retrained model goes live when it beats the deployed one on rows of the new
        # batch it never saw: a share of each batch is held out from every candidate
        "holdout_share": 0.3,
        "alpha": 0.05,  # one-sided level of the paired holdout comparison (log-loss)
        "min_holdout_rows": 20,  # fewer (or one class only): the test data decides
    },
    "deployment": {
        "force": False,  # deploy a retrained model even if it scores worse
        # HMAC key signing every manifest; must lie outside prod_deployment_path.
        # Empty: <prod_deployment_path>.key beside that folder. Created (0600) on first deploy
        "signing_key_path": "",
    },
    "logging": {
        "file": "fullprocess.log",  # in output_folder_path; rotated
        "max_bytes": 1_000_000,
        "backups": 5,
    },
    "risk": {
        "high": 0.5,  # exit probability at or above: high risk band
        "medium": 0.25,  # at or above (and below high): medium
        "top_reasons": 3,  # features listed as reasons per client
        "calls_per_week": 50,  # clients the team can call in a week: this week's call list
        "recontact_days": 14.0,  # a client contacted this recently is left off the call list
    },
    "auth": {
        # who may see what: users and tokens live in the store (python app.py users/tokens)
        "session_hours": 12.0,  # a sign-in lasts this long (then sign in again)
        "max_failed_signins": 20,  # failures in a row per user or address; then 429
        "failed_signin_minutes": 15.0,  # ...counted over this window (the lock lifts after)
        "session_key_path": "",  # empty: session.key in output_folder_path (0600)
    },
    "notify": {
        # off by default; a webhook (Slack-compatible JSON) and/or e-mail (smtplib)
        "webhook_url": "",  # empty: no webhook
        "email_to": "",  # comma-separated recipients; empty: no e-mail
        "email_from": "risk-assessment@localhost",
        "smtp_host": "localhost",
        "smtp_port": 25,
        "smtp_user": "",  # login only when set (password from $RISK_SMTP_PASSWORD)
        "smtp_starttls": False,
        "timeout_seconds": 10.0,  # per notification; a failure is logged, never fatal
        "failed_ticks": 3,  # notify after this many consecutive failed runs (0: never)
        "stale_days": 7.0,  # notify when no new data arrived for this many days (0: never)
        "dashboard_url": "",  # the dashboard's address in each message; default api.base_url
    },
    "api": {
        "host": "127.0.0.1",  # `python app.py` serves here (development only)
        "port": 8000,
        "base_url": "http://127.0.0.1:8000",  # where apicalls.py finds the server
        "max_request_bytes": 10_000_000,  # larger request bodies get 413
        "max_rows": 10_000,  # rows per request body (413 beyond); file predictions are paged
    },
}
PATH_KEYS = [k for k, v in DEFAULTS.items() if k.endswith("_path")]
CHOICES = {
    ("model_drift", "rule"): ("refit", "raw", "parametric", "nonparametric"),
    ("training", "transform"): ("auto", "raw", "log"),
    ("training", "contacted_labels"): ("keep", "leave_out"),
    ("training", "solver"): ("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"),
}
# Allowed ranges, checked at load: (section, key) -> (low, high, low inclusive?)
RANGES: dict[tuple[str, str], tuple[float, float, bool]] = {
    ("ingestion", "max_bad_row_share"): (0.0, 1.0, True),
    ("ingestion", "settle_seconds"): (0.0, 86_400.0, True),
    ("input_database", "chunk_rows"): (1, 10_000_000, True),
    ("lock", "wait_seconds"): (0.0, 3_600.0, True),
    ("retention", "keep_versions"): (2, 1_000_000, True),
    ("retention", "keep_refused"): (0, 1_000_000, True),
    ("retention", "history_days"): (1.0, 36_500.0, True),
    ("training", "C"): (0.0, 1e12, False),
    ("training", "max_iter"): (1, 1_000_000, True),
    ("training", "min_rows"): (2, 1_000_000_000, True),
    ("training", "cv_folds"): (2, 20, True),
    ("diagnostics", "index_timeout_seconds"): (0.0, 600.0, False),
    ("diagnostics", "cache_hours"): (0.0, 8_760.0, True),
    ("model_drift", "confidence"): (0.5, 1.0, False),
    ("model_drift", "min_batch_rows"): (0, 1_000_000_000, True),
    ("model_drift", "alpha"): (0.0, 0.5, False),
    ("model_drift", "calibration_alpha"): (0.0, 0.5, False),
    ("gate", "holdout_share"): (0.05, 0.9, True),
    ("gate", "alpha"): (0.0, 0.5, False),
    ("gate", "min_holdout_rows"): (2, 1_000_000, True),
    ("data_drift", "max_drifted_share"): (0.0, 1.0, True),
    ("logging", "max_bytes"): (10_000, 10_000_000_000, True),
    ("logging", "backups"): (0, 1_000, True),
    ("risk", "high"): (0.0, 1.0, True),
    ("risk", "medium"): (0.0, 1.0, True),
    ("risk", "top_reasons"): (0, 3, True),
    ("risk", "calls_per_week"): (1, 100_000, True),
    ("risk", "recontact_days"): (0.0, 3_650.0, True),
    ("auth", "session_hours"): (0.01, 8_760.0, True),
    ("auth", "max_failed_signins"): (1, 1_000_000, True),
    ("auth", "failed_signin_minutes"): (0.1, 525_600.0, True),
    ("api", "port"): (1, 65_535, True),
    ("api", "max_request_bytes"): (1_000, 1_000_000_000, True),
    ("notify", "smtp_port"): (1, 65_535, True),
    ("notify", "timeout_seconds"): (0.1, 300.0, True),
    ("notify", "failed_ticks"): (0, 1_000, True),
    ("notify", "stale_days"): (0.0, 36_500.0, True),
}


def merge_settings(defaults: dict, given: dict, where: str) -> dict:
    """Defaults overlaid with given values; unknown keys and wrong types raise ConfigError."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        default = defaults[key]
        name = f"{where}: {key}"
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{name} must be an object")
            merged[key] = merge_settings(default, value, name)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, not {value!r}")
            merged[key] = value
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, not {value!r}")
            if not math.isfinite(value):  # JSON's NaN and Infinity: no range check holds
                raise ConfigError(f"{name} must be a finite number, not {value!r}")
            merged[key] = value
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, not {value!r}")
        else:
            merged[key] = value
    return merged


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    """The config file to use: --config, else $RISK_CONFIG, else config.json here."""
    chosen = explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG
    return Path(chosen).expanduser().resolve()


def load_config(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read config.json, fill defaults, reject unknown keys, resolve the *_path keys.

    Relative paths are resolved against the config file's folder, so scripts work from
    any working directory (cron runs from $HOME). The result carries `config_file`.
    """
    file = config_path(path)
    try:
        given = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read config ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON ({exc})") from None
    if not isinstance(given, dict):
        raise ConfigError(f"{file}: must hold a JSON object")
    schema = given.pop("schema", None)
    config = merge_settings(DEFAULTS, given, file.name)
    config["schema"] = parse_schema(schema, f"{file.name}: schema")
    check_ranges(config, file.name)
    risk = config["risk"]
    if not 0 <= risk["medium"] <= risk["high"] <= 1:
        raise ConfigError(f"{file.name}: risk needs 0 <= medium <= high <= 1")
    for (section, key), allowed in CHOICES.items():
        if config[section][key] not in allowed:
            raise ConfigError(
                f"{file.name}: {section}.{key} must be one of "
                f"{', '.join(allowed)}, not {config[section][key]!r}"
            )
    resolve_paths(config, file)
    config["config_file"] = file
    return config


def resolve_paths(config: dict[str, Any], file: Path) -> None:
    """Make every path setting absolute, against the config file's folder (in place)."""
    for key in PATH_KEYS:
        config[key] = (file.parent / Path(config[key]).expanduser()).resolve()
    config["deployment"]["signing_key_path"] = signing_key_location(
        config["deployment"]["signing_key_path"], config["prod_deployment_path"], file
    )
    auth = config["auth"]
    auth["session_key_path"] = session_key_location(auth["session_key_path"], config, file)
    config["input_database"]["url"] = resolve_database_url(
        config["input_database"]["url"], file.parent
    )


def check_ranges(config: dict[str, Any], where: str) -> None:
    """ConfigError naming the key and its allowed range when a value falls outside it."""
    for (section, key), (low, high, inclusive) in RANGES.items():
        value = config.get(section, {}).get(key)
        if value is None:
            continue
        above = value >= low if inclusive else value > low
        if not (above and value <= high):
            bracket = "[" if inclusive else "("
            raise ConfigError(
                f"{where}: {section}.{key} = {value!r} is outside the allowed range "
                f"{bracket}{low}, {high}]"
            )
    url = config["notify"]["webhook_url"]
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: notify.webhook_url must start with http:// or https://")


def default_signing_key(prod: Path) -> Path:
    """The signing key's default place: beside the deployment folder, never inside it."""
    return prod.parent / f"{prod.name}.key"


def signing_key_location(given: str, prod: Path, file: Path) -> Path:
    """The configured signing key path, resolved; ConfigError if inside prod_deployment_path."""
    path = (file.parent / Path(given).expanduser()).resolve() if given else None
    path = path or default_signing_key(prod)
    if path.is_relative_to(prod):
        raise ConfigError(f"{file.name}: deployment.signing_key_path must be outside {prod.name}")
    return path


def session_key_location(given: str, config: dict[str, Any], file: Path) -> Path:
    """The configured session key path, resolved; default session.key in the output folder."""
    if not given:
        return config["output_folder_path"] / "session.key"
    return (file.parent / Path(given).expanduser()).resolve()


def resolve_database_url(url: str, base: Path) -> str:
    """A sqlite URL with a relative path made absolute against base; others unchanged."""
    path = sqlite_file(url)
    if path is None or path.startswith("/") or url == SQLITE_PREFIX or path == ":memory:":
        return url
    query = url.partition("?")[2]
    return SQLITE_PREFIX + str((base / path).resolve()) + (f"?{query}" if query else "")
