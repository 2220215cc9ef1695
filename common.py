"""Shared helpers for the pipeline scripts: config, errors, atomic writes, hashes, logging.

Standard library only, so that the cron tick of fullprocess.py can decide "nothing new"
(with sources.py) without importing pandas or scikit-learn, and so that a Python without
the project's packages gets one line naming the right command instead of a traceback
(check_environment, called at the end of this module: every script imports common before
it needs a package).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = PROJECT_DIR / "config.json"
CONFIG_ENV = "RISK_CONFIG"

# Schema of every data file: the original project's columns.
ID_COLUMN = "corporation"
FEATURES = ["lastmonth_activity", "lastyear_activity", "number_of_employees"]
TARGET = "exited"
COLUMNS = [ID_COLUMN, *FEATURES, TARGET]

# File names inside the configured folders (the original project's names).
FINALDATA = "finaldata.csv"
INGESTED_FILES = "ingestedfiles.txt"
INGESTION_RECORD = "ingestion_record.json"
MODEL_FILE = "trainedmodel.pkl"  # written for the original tools; nothing here loads it
MODEL_SKOPS = "trainedmodel.skops"  # the model that is loaded: skops, no code runs on load
MODEL_META = "trainedmodel.json"
SCORE_FILE = "latestscore.txt"
SCORES_JSON = "scores.json"
TEST_FILE = "testdata.csv"
# The live version's manifest, inside prod_deployment_path (see deployment.py).
LIVE_MANIFEST = Path("current") / "manifest.json"

# Import names of the pinned runtime packages; their absence means the wrong Python.
REQUIRED_MODULES = ("numpy", "pandas", "sklearn", "flask", "requests", "matplotlib", "reportlab")
VENV_PYTHON = PROJECT_DIR / ".venv" / "bin" / "python"

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
    ("api", "port"): (1, 65_535, True),
    ("api", "max_request_bytes"): (1_000, 1_000_000_000, True),
    ("notify", "smtp_port"): (1, 65_535, True),
    ("notify", "timeout_seconds"): (0.1, 300.0, True),
    ("notify", "failed_ticks"): (0, 1_000, True),
    ("notify", "stale_days"): (0.0, 36_500.0, True),
}


class RiskError(Exception):
    """An expected failure: bad config, bad data, missing or bad model. One-line message."""


class ConfigError(RiskError):
    """config.json is missing, malformed or holds unknown keys or wrong types."""


class DataError(RiskError):
    """A data file is missing, malformed or does not follow the schema."""


class LockError(RiskError):
    """Another process holds the workspace's writer lock."""


class ModelError(RiskError):
    """A model is missing, cannot be trained, or failed verification."""


def _merge(defaults: dict, given: dict, where: str) -> dict:
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
            merged[key] = _merge(default, value, name)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, not {value!r}")
            merged[key] = value
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, not {value!r}")
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
    config = _merge(DEFAULTS, given, file.name)
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
    check_ranges(config, file.name)
    for key in PATH_KEYS:
        config[key] = (file.parent / Path(config[key]).expanduser()).resolve()
    config["deployment"]["signing_key_path"] = signing_key_location(
        config["deployment"]["signing_key_path"], config["prod_deployment_path"], file
    )
    config["input_database"]["url"] = resolve_database_url(
        config["input_database"]["url"], file.parent
    )
    config["config_file"] = file
    return config


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


SQLITE_PREFIX = "sqlite:///"


def sqlite_file(url: str) -> str | None:
    """The file path of a sqlite:/// URL (its query cut off); None for other URLs."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    return url[len(SQLITE_PREFIX) :].partition("?")[0]


def resolve_database_url(url: str, base: Path) -> str:
    """A sqlite URL with a relative path made absolute against base; others unchanged."""
    path = sqlite_file(url)
    if path is None or path.startswith("/") or url == SQLITE_PREFIX or path == ":memory:":
        return url
    query = url.partition("?")[2]
    return SQLITE_PREFIX + str((base / path).resolve()) + (f"?{query}" if query else "")


def first_line(exc: Exception) -> str:
    """The first line of an exception's message, at most 200 characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write data to path via a temp file in the same folder, fsync, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide artifacts from the API's user
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write obj as indented JSON."""
    return write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """Read a JSON file; `default` when it does not exist; DataError when it is corrupt."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: corrupt JSON ({exc})") from None


def test_data_file(test_data_path: Path) -> Path:
    """The test CSV: test_data_path itself if it is a file, else testdata.csv inside it."""
    return test_data_path if test_data_path.is_file() else test_data_path / TEST_FILE


test_data_file.__test__ = False  # not a pytest test, whatever imports it


# How people read the scores: the report, the dashboard and the texts use these names.
METRIC_LABELS = {
    "f1": "F1",
    "precision": "precision",
    "recall": "recall",
    "roc_auc": "ROC AUC",
    "accuracy": "accuracy",
    "rows": "test rows",
    "positives": "actual exits",
}


def format_number(value: Any, digits: int = 4, missing: str = "n/a") -> str:
    """The one way a value is shown as text: floats to `digits` decimals, lists joined
    by commas, None as `missing`."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table of rows with the given columns (None shows as empty)."""
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_text(text: Any, limit: int = 300) -> str:
    """Text safe to quote in a log line or a one-name-per-line file: control characters
    escaped (a newline cannot forge a line), cut to limit characters."""
    text = str(text)
    cut = len(text) > limit
    text = CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text[:limit])
    return text + (f"... ({len(text)}+ chars)" if cut else "")


class SafeFormatter(logging.Formatter):
    """A formatter whose message part is escaped and cut: one event, one line, bounded.

    The traceback of an unexpected error (exc_info) still follows on its own lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = escape_text(record.message, MAX_LOG_MESSAGE)
        return super().formatMessage(record)


MAX_LOG_MESSAGE = 2_000
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
# Level of the stderr handler: --quiet (the cron line) raises it to WARNING, so INFO goes
# only to fullprocess's rotating log and the cron log file stays small.
_stderr_level = logging.NOTSET


def setup_logging(level: int = logging.INFO) -> None:
    """Log one line per event to stderr: time, script, level, message."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    handler.setLevel(_stderr_level)


class QuietAction(argparse.Action):
    """--quiet: from now on only warnings and errors reach stderr."""

    def __call__(self, parser, namespace, values, option_string=None):
        global _stderr_level
        _stderr_level = logging.WARNING
        for handler in logging.getLogger().handlers:
            if getattr(handler, "stream", None) is sys.stderr:
                handler.setLevel(_stderr_level)
        setattr(namespace, self.dest, True)


def cli_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the shared --config and --quiet options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config",
        help=f"path to config.json (default: ${CONFIG_ENV} or {DEFAULT_CONFIG.name} here)",
    )
    parser.add_argument(
        "--quiet",
        nargs=0,
        action=QuietAction,
        default=False,
        help="only warnings and errors on stderr (INFO still goes to a log file); for cron",
    )
    return parser


def run_cli(main: Callable[[], int | None], name: str) -> None:
    """Run a script's main(): expected failures become one log line and exit status 1."""
    setup_logging()
    log = logging.getLogger(name)
    try:
        code = main()
    except RiskError as exc:
        log.error("%s", exc)
        sys.exit(1)
    except OSError as exc:  # disk full, permission denied: say which file, no traceback
        log.error("%s: %s", getattr(exc, "filename", None) or "file error", exc.strerror or exc)
        sys.exit(1)
    except KeyboardInterrupt:
        log.error("interrupted")
        sys.exit(130)
    sys.exit(code or 0)


def check_environment(modules=REQUIRED_MODULES) -> None:
    """Exit with one line naming the command to use when this Python lacks the packages.

    find_spec looks a module up without importing it, so the check stays light.
    """
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    script = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "this script"
    sys.exit(
        f"{script}: {sys.executable} lacks {', '.join(missing)}; run `make run` once, then use "
        f"{VENV_PYTHON} {script} (or `. .venv/bin/activate` first, then `python {script}`)"
    )


check_environment()  # the one thing importing common does: a wrong Python exits here
