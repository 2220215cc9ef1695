"""Shared helpers for the pipeline scripts: names, errors, atomic writes, hashes, logging, CLI.

Standard library only, so that the cron tick of fullprocess.py can decide "nothing new"
(with sources.py) without importing pandas or scikit-learn, and so that a Python without
the project's packages gets one line naming the right command instead of a traceback
(check_environment, called at the end of this module: every script imports common before
it needs a package).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]  # the checkout (core/ is two levels down)
DEFAULT_CONFIG = PROJECT_DIR / "config.json"
CONFIG_ENV = "RISK_CONFIG"

# The data's columns are the user's: config["schema"] (core/columns.py), never constants.

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


class RiskError(Exception):
    """An expected failure: bad config, bad data, missing or bad model. One-line message."""


class ConfigError(RiskError):
    """config.json is missing, malformed or holds unknown keys or wrong types."""


class DataError(RiskError):
    """A data file is missing, malformed or does not follow the schema."""


class LockError(RiskError):
    """Another process holds the workspace's writer lock."""


class AccessError(RiskError):
    """A user or token that does not exist or already does, a bad role, scope or password."""


class ModelError(RiskError):
    """A model is missing, cannot be trained, or failed verification."""


class SchemaChanged(ModelError):
    """A model was trained on other columns than config.json's schema declares: never
    served or scored; fullprocess.py trains its successor with the next batch. `fact`:
    the message without its advice, for a caller that gives its own."""

    def __init__(self, message: str, fact: str = ""):
        super().__init__(message)
        self.fact = fact or message


SQLITE_PREFIX = "sqlite:///"


def sqlite_file(url: str) -> str | None:
    """The file path of a sqlite:/// URL (its query cut off); None for other URLs."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    return url[len(SQLITE_PREFIX) :].partition("?")[0]


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


def stamp(*paths: Path) -> tuple:
    """What identifies the current content of files: (mtime, size) each, None if absent."""
    out = []
    for path in paths:
        try:
            st = path.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write data to path via a temp file in the same folder, fsync, then os.replace."""
    return write_atomic_parts(path, [data])


def write_atomic_parts(
    path: str | os.PathLike, parts: Iterable[bytes | str], keep: bool = False
) -> Path:
    """Write the parts (text as UTF-8) one after the other to a temp file in path's folder,
    fsync, then os.replace: a crash leaves the old file or the new one. With keep, the
    parts follow a copy of path's content (the file grows by them). A large file is
    written without holding it whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide artifacts from the API's user
        with os.fdopen(fd, "wb") as fh:
            if keep:
                with path.open("rb") as old:
                    shutil.copyfileobj(old, fh, 1 << 20)
            for part in parts:
                fh.write(part.encode("utf-8") if isinstance(part, str) else part)
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
