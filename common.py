"""Shared helpers for the pipeline scripts: config, errors, atomic writes, hashes, logging.

Standard library only, so that the cron tick of fullprocess.py can decide "nothing new"
without importing pandas or scikit-learn.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from contextlib import closing
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
    },
    "training": {
        "solver": "liblinear",  # the original project's logistic regression
        "C": 1.0,
        "max_iter": 100,
        "random_state": 0,
        "scale_features": False,  # StandardScaler in front; measured: no clear gain (README)
        "min_rows": 10,  # fewer rows than this is not a model worth deploying
    },
    "diagnostics": {
        "package_index_url": "https://pypi.org/pypi",  # PyPI's JSON API, or a mirror's
        "index_timeout_seconds": 3.0,  # per look-up; look-ups run in parallel
        "cache_hours": 24.0,  # the dependency table is refreshed at most daily
    },
    "model_drift": {
        # raw: drift when the new F1 is below the deployed F1 (the original rule);
        # parametric / nonparametric: below mean - 2 std / Q1 - 1.5 IQR of past scores
        "rule": "raw",
        "require_significance": True,  # ... and the whole bootstrap interval is below it
        "confidence": 0.95,  # of the bootstrap interval of the new F1
        "min_batch_rows": 50,  # smaller batches are too noisy to call drift on
    },
    "data_drift": {
        "max_drifted_share": 0.5,  # dataset drift: more than this share of features
        "triggers_retraining": False,  # data drift alone does not retrain (README)
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
    "api": {
        "host": "127.0.0.1",  # `python app.py` serves here (development only)
        "port": 8000,
        "base_url": "http://127.0.0.1:8000",  # where apicalls.py finds the server
        "max_request_bytes": 10_000_000,  # larger request bodies get 413
        "max_rows": 10_000,  # rows per request body (413 beyond); file predictions are paged
    },
}
PATH_KEYS = [k for k, v in DEFAULTS.items() if k.endswith("_path")]
CHOICES = {("model_drift", "rule"): ("raw", "parametric", "nonparametric")}


class RiskError(Exception):
    """An expected failure: bad config, bad data, missing or bad model. One-line message."""


class ConfigError(RiskError):
    """config.json is missing, malformed or holds unknown keys or wrong types."""


class DataError(RiskError):
    """A data file is missing, malformed or does not follow the schema."""


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
    risk = config["risk"]
    if not 0 <= risk["medium"] <= risk["high"] <= 1:
        raise ConfigError(f"{file.name}: risk needs 0 <= medium <= high <= 1")
    for (section, key), allowed in CHOICES.items():
        if config[section][key] not in allowed:
            raise ConfigError(
                f"{file.name}: {section}.{key} must be one of "
                f"{', '.join(allowed)}, not {config[section][key]!r}"
            )
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


def resolve_database_url(url: str, base: Path) -> str:
    """A sqlite URL with a relative path made absolute against base; others unchanged."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith(prefix + "/") or url == prefix:
        return url
    path, _, query = url[len(prefix) :].partition("?")
    if path == ":memory:":
        return url
    return prefix + str((base / path).resolve()) + (f"?{query}" if query else "")


def database_watermark(record: dict[str, Any], settings: dict[str, Any]) -> Any:
    """The recorded watermark of this database source, or None (nothing read yet).

    A different url, table, query or watermark column starts from the beginning.
    """
    db = record.get("database") or {}
    return db.get("watermark") if db.get("source") == database_key(settings) else None


def database_key(settings: dict[str, Any]) -> dict[str, str]:
    """What identifies a database source in the ingestion record (no password)."""
    return {
        "url": redact_url(settings["url"]),
        "table": settings["table"],
        "query": settings["query"],
        "watermark_column": settings["watermark_column"],
    }


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def select_sql(
    settings: dict[str, Any], after_watermark: bool, quote=None, probe: bool = False
) -> str:
    """SELECT of the rows above the watermark (bound as :wm), in watermark order.

    probe: only ask whether one such row exists. quote: the dialect's identifier quoting.
    """
    quote = quote or quote_name
    source = f"({settings['query']}) AS q" if settings["query"] else quote(settings["table"])
    column = quote(settings["watermark_column"])
    where = f" WHERE {column} > :wm" if after_watermark else ""
    if probe:
        return f"SELECT 1 FROM {source}{where} LIMIT 1"
    return f"SELECT * FROM {source}{where} ORDER BY {column}"


def database_has_new_rows(settings: dict[str, Any], watermark: Any) -> bool:
    """True if the source database holds rows above the watermark; DataError if unreachable.

    SQLite is asked through the standard library (the cron tick stays light); other
    databases through SQLAlchemy, imported only here.
    """
    url, params = settings["url"], {"wm": watermark}
    try:
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :].partition("?")[0]
            if not Path(path).exists():
                raise DataError(f"database {redact_url(url)}: file not found")
            sql = select_sql(settings, watermark is not None, probe=True)
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
                return db.execute(sql, params).fetchone() is not None
        import sqlalchemy  # only for non-SQLite sources

        engine = sqlalchemy.create_engine(url)
        try:
            quote = engine.dialect.identifier_preparer.quote
            sql = select_sql(settings, watermark is not None, quote, probe=True)
            with engine.connect() as conn:
                return conn.execute(sqlalchemy.text(sql), params).first() is not None
        finally:
            engine.dispose()
    except DataError:
        raise
    except Exception as exc:  # any driver's error: unreachable, no such table, bad SQL
        raise DataError(f"database {redact_url(url)}: {first_line(exc)}") from None


def first_line(exc: Exception) -> str:
    """The first line of an exception's message, at most 200 characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def quote_name(name: str) -> str:
    """An SQL identifier in double quotes (ANSI; SQLite and PostgreSQL accept it)."""
    return '"' + name.replace('"', '""') + '"'


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


def load_ingestion_record(output_folder: str | os.PathLike) -> dict[str, Any]:
    """The ingestion record of output_folder; an empty one before the first ingestion."""
    record = read_json(Path(output_folder) / INGESTION_RECORD, None)
    return record if record is not None else {"files": [], "runs": []}


def file_stamp(path: Path) -> dict[str, int]:
    """Size and modification time of a file: recorded so unchanged files skip hashing."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def find_csv_files(folder: str | os.PathLike) -> list[Path]:
    """Every *.csv file directly in folder, sorted by name; DataError if no such folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: input folder not found")
    return sorted(p for p in folder.glob("*.csv") if p.is_file())


def scan_input(
    input_folder: str | os.PathLike, record: dict[str, Any]
) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(new files with their sha256, files skipped) of input_folder against a record.

    A file is known by its content: one whose sha256 the record holds (ingested or
    rejected, under any name) is skipped, and so is a second copy within the folder.
    A file at a recorded path with the recorded size and modification time is not
    hashed again: the cron tick reads no file that has not changed.
    """
    entries = record.get("files", [])
    seen = {e["sha256"] for e in entries}
    stamps = {(e.get("path"), e.get("size"), e.get("mtime_ns")) for e in entries}
    new, skipped = [], []
    for path in find_csv_files(input_folder):
        stamp = file_stamp(path)
        if (str(path), stamp["size"], stamp["mtime_ns"]) in stamps:
            skipped.append(path)
            continue
        digest = sha256_file(path)
        if digest in seen:
            skipped.append(path)
            continue
        seen.add(digest)
        new.append((path, digest))
    return new, skipped


def find_new_files(input_folder: str | os.PathLike, record: dict[str, Any]) -> list[Path]:
    """CSV files of input_folder whose content the record has not seen yet."""
    return [path for path, _ in scan_input(input_folder, record)[0]]


# Every type a served model may contain, checked before loading (skops builds objects
# of these types from data; no other type, and no code from the file, is ever used).
TRUSTED_TYPES = [
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.model_selection._classification_threshold.FixedThresholdClassifier",
    "numpy.log1p",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
]
# skops nodes that hold plain data (dicts, lists, JSON values, arrays), not objects
DATA_NODES = {"DictNode", "ListNode", "JsonNode", "TupleNode", "NdArrayNode", "TypeNode"}


def skops_types(payload: bytes) -> set[str]:
    """Every 'module.Class' a skops file would build (read from its schema, nothing run)."""
    import io
    import zipfile

    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("__loader__") not in DATA_NODES and "__class__" in node:
                found.add(f"{node.get('__module__')}.{node['__class__']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        walk(json.loads(archive.read("schema.json")))
    return found


def load_model_verified(path: str | os.PathLike, expected_sha256: str | None) -> Any:
    """Load a skops model only if its bytes hash to expected_sha256 and it holds only
    TRUSTED_TYPES; ModelError otherwise. No code from the file ever runs.

    The bytes are read once, hashed, checked and loaded, so the file checked is the file
    loaded. Pickles are never loaded: a .pkl (or any non-skops file) is refused.
    """
    path = Path(path)
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model ({exc.strerror})") from None
    if not expected_sha256:
        raise ModelError(f"{path}: no recorded sha256 to verify the model against")
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected_sha256:
        raise ModelError(
            f"{path}: sha256 {actual[:12]}... does not match the recorded "
            f"{expected_sha256[:12]}...; file corrupted or tampered, refusing to load"
        )
    try:
        untrusted = sorted(skops_types(payload) - set(TRUSTED_TYPES))
    except Exception as exc:  # not a zip, no schema: not a skops file
        kind = type(exc).__name__
        raise ModelError(f"{path}: not a skops model file ({kind}); refusing to load") from None
    if untrusted:
        raise ModelError(f"{path}: untrusted type(s) {', '.join(untrusted)}; refusing to load")
    import skops.io  # only where a model is loaded: the cron tick stays light

    try:
        return skops.io.loads(payload, trusted=TRUSTED_TYPES)
    except Exception as exc:  # a verified file that still fails: say what, not a trace
        raise ModelError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table of rows with the given columns (None shows as empty)."""
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def setup_logging(level: int = logging.INFO) -> None:
    """Log one line per event to stderr: time, script, level, message."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
        force=True,
    )


def cli_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the shared --config option."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config",
        help=f"path to config.json (default: ${CONFIG_ENV} or {DEFAULT_CONFIG.name} here)",
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
