"""The model server's internals: the app's shared state, the served model, safe reads.

The state (ApiState) lives in app.extensions["risk_assessment"]; app.py and dashboard.py
read it only through state(). Data sets are cached per file version (DatasetCache).

The served model is loaded lazily, verified (deployment.load_deployed), reloaded when
`current` changes, and kept with a "numpy twin" that scores rows without pandas (the hot
path of single-record predictions). Data files that requests name are opened first and
then checked (regular file, one link, real path inside a data folder).
"""

from __future__ import annotations

import copy
import errno
import logging
import os
import stat
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from risk_assessment.core.common import RiskError

import numpy as np
import pandas as pd
from flask import current_app
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.deployment.versions import CURRENT, load_deployed
from risk_assessment.schema import dataset
from risk_assessment.server.metrics import Metrics
from risk_assessment.server.protocol import ApiError, invalid

log = logging.getLogger("app")

# Values the twin must score exactly like the model before it is used (per feature, in
# turn, clipped to the feature's bounds; booleans 0/1).
CHECK_VALUES = np.array([[0.0, 0.0, 0.0], [5.0, 100.0, 10.0], [250.0, 9000.0, 800.0]])


def check_rows(schema: ColumnSchema) -> pd.DataFrame:
    """Three rows of the schema's (numeric) features for numpy_twin's check."""
    columns = {}
    for j, f in enumerate(schema.features):
        values = CHECK_VALUES[:, j % 3]
        if f.type == "boolean":
            values = np.array([0.0, 1.0, 1.0])
        low = f.min if f.min is not None else -np.inf
        high = f.max if f.max is not None else np.inf
        columns[f.name] = np.clip(values, low, high)
    return pd.DataFrame(columns, columns=schema.feature_names)


def strip_feature_names(obj: Any, seen: set[int]) -> None:
    """Remove feature_names_in_ from every estimator inside obj (steps, wrapped models)."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, BaseEstimator):
        obj.__dict__.pop("feature_names_in_", None)
        values = list(obj.__dict__.values())
    elif isinstance(obj, list | tuple):
        values = list(obj)
    elif isinstance(obj, dict):
        values = list(obj.values())
    else:
        return
    for value in values:
        strip_feature_names(value, seen)


def flatten_columns(obj: Any, n: int, seen: set[int]) -> None:
    """Replace, inside obj, a ColumnTransformer whose one part takes all n columns in order
    by that part's steps (the same arithmetic without its per-call bookkeeping, most of a
    single-record prediction's time)."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    steps = getattr(obj, "steps", None)
    if steps and isinstance(steps[0][1], ColumnTransformer):
        parts = [p for p in steps[0][1].transformers_ if p[0] != "remainder"]
        if len(parts) == 1 and list(parts[0][2]) == list(range(n)):
            inner = parts[0][1]
            inner_steps = inner.steps if hasattr(inner, "steps") else [(parts[0][0], inner)]
            obj.steps = [*inner_steps, *steps[1:]]
    for value in list(getattr(obj, "__dict__", {}).values()):
        if isinstance(value, BaseEstimator):
            flatten_columns(value, n, seen)


def numpy_twin(model, schema: ColumnSchema = DEFAULT_SCHEMA) -> Any | None:
    """A copy of model that takes numpy rows in the schema's feature order, or None (also
    for a schema with categories, whose rows are not numbers).

    scikit-learn checks a DataFrame's column names on every call (most of a single-record
    prediction's time); the twin forgets the names and takes plain arrays. Used only if
    it gives the model's labels on CHECK_ROWS and its probabilities (to 1e-9).
    """
    if any(f.type == "category" for f in schema.features):
        return None
    try:
        twin = copy.deepcopy(model)
        strip_feature_names(twin, set())
        flatten_columns(twin, len(schema.features), set())
        frame = check_rows(schema)
        rows = frame.to_numpy(dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            same = np.array_equal(twin.predict(rows), model.predict(frame))
            # the same arithmetic, but a DataFrame's columns may sum in another order
            close = np.allclose(
                twin.predict_proba(rows), model.predict_proba(frame), rtol=1e-9, atol=1e-15
            )
    except Exception as exc:  # any surprise: serve through pandas, as before
        log.warning("no numpy fast path for this model (%s)", type(exc).__name__)
        return None
    return twin if same and close else None


class NumpyRows:
    """The numpy twin of a model, taking the request's frame as a float matrix (the fast
    path of numeric schemas)."""

    def __init__(self, twin):
        self.twin = twin

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.twin.predict(frame.to_numpy(dtype=float))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.twin.predict_proba(frame.to_numpy(dtype=float))


def predict(model, frame: pd.DataFrame, proba: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(0/1 predictions, exit probabilities or None) of rows of the schema's features.

    A model that cannot score the values (e.g. NaN after a log of a negative number)
    is a 400 for the caller, not a 500.
    """
    try:
        with warnings.catch_warnings():  # log1p of a negative count: NaN, refused below
            warnings.simplefilter("ignore", RuntimeWarning)
            labels = model.predict(frame).astype(int)
            return labels, (model.predict_proba(frame)[:, 1] if proba else None)
    except ValueError as exc:
        reason = str(exc).splitlines()[0][:120]
        raise invalid(f"rows: the model cannot score these values ({reason})") from None


class ModelHolder:
    """The deployed model, loaded lazily, reloaded when `current` changes.

    One thread loads a new version while the others keep answering with the last one
    (each answer from one consistent (model, manifest) pair), so a redeploy never stalls
    the server. If a newly deployed model fails verification, the last good one keeps
    serving and the failure is reported by /health.
    """

    def __init__(self, prod: Path, key_file: Path, schema: ColumnSchema = DEFAULT_SCHEMA):
        self.prod, self.key_file, self.schema = prod, key_file, schema
        self.lock = threading.Lock()  # held by the thread that loads
        self.target: str | None = None  # the `current` link target last tried
        self.state: tuple | None = None  # (model, numpy twin, manifest), replaced whole
        self.error: str | None = None

    @property
    def manifest(self) -> dict[str, Any] | None:
        """The manifest of the model being served, if any."""
        return self.state[2] if self.state else None

    def current(self) -> tuple:
        """(model, twin, manifest) of the live version; ApiError 503 when none loads."""
        try:
            target = str((self.prod / CURRENT).readlink())
        except OSError:
            target = None
        state = self.state
        if state is not None and target == self.target:
            return state
        if state is not None and not self.lock.acquire(blocking=False):
            return state  # another thread is loading the new version
        if state is None:
            self.lock.acquire()
        try:
            if self.state is None or target != self.target:
                self.load(target)
        finally:
            self.lock.release()
        if self.state is None:
            raise ApiError(503, self.error or "no deployed model")
        return self.state

    def load(self, target: str | None) -> None:
        """Load and verify the live version; on failure keep the last good one."""
        self.target = target
        try:
            model, manifest = load_deployed(self.prod, self.key_file, self.schema)
        except RiskError as exc:
            self.error = strip_paths(str(exc))  # answers never show server folders
            log.error("%s", exc)
            return
        self.state, self.error = (model, numpy_twin(model, self.schema), manifest), None
        log.info("serving model %s", manifest["version"])

    def get(self):
        """(model, manifest) of the live version; ApiError 503 when none can be loaded."""
        model, _, manifest = self.current()
        return model, manifest

    def predictor(self):
        """(model taking a request's feature frame, manifest) of the live version."""
        model, twin, manifest = self.current()
        return (NumpyRows(twin) if twin is not None else model), manifest


MAX_PATH_CHARS = 1024  # longer filepath values are refused before touching the file system
MAX_NAME_BYTES = 255  # per path component (NAME_MAX)
MAX_FILE_BYTES = 200_000_000  # a data file larger than this is not read by a request


def data_folders(config: dict[str, Any]) -> list[Path]:
    """The real paths of the folders whose CSV files requests may name."""
    test = config["test_data_path"]
    folders = [config["input_folder_path"], config["output_folder_path"]]
    folders.append(test if test.is_dir() else test.parent)
    return [folder.resolve() for folder in folders]


def check_given_path(given: str) -> Path:
    """The relative path a request names, checked as text; ApiError before any file access."""
    if not given or "\x00" in given:
        raise ApiError(400, "filepath: empty or invalid")
    if len(given) > MAX_PATH_CHARS:
        raise ApiError(400, f"filepath: longer than {MAX_PATH_CHARS} characters")
    rel = Path(given)
    if any(len(part.encode("utf-8", "replace")) > MAX_NAME_BYTES for part in rel.parts):
        raise ApiError(400, f"filepath: a name longer than {MAX_NAME_BYTES} bytes")
    if rel.is_absolute() or ".." in rel.parts:
        raise ApiError(403, f"filepath {given!r}: only paths inside the data folders are allowed")
    if rel.suffix.lower() != ".csv":
        raise ApiError(400, f"filepath {given!r}: only .csv files can be scored")
    return rel


def open_checked(path: Path, given: str, folders: list[Path]) -> int:
    """A descriptor of path, opened first and then checked: a regular file with one link,
    whose real path lies inside a data folder. The final name is never a symlink."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ApiError(404, f"filepath {given!r}: file not found") from None
    except OSError as exc:  # ELOOP: a symlink; ENOTDIR, EACCES, ENAMETOOLONG
        if exc.errno == errno.ENOTDIR:
            raise ApiError(404, f"filepath {given!r}: file not found") from None
        status = 403 if exc.errno in (errno.ELOOP, errno.EACCES) else 400
        raise ApiError(status, f"filepath {given!r}: cannot open ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        real = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if not any(real.is_relative_to(folder) for folder in folders):
            raise ApiError(403, f"filepath {given!r}: only paths inside the data folders allowed")
        if not stat.S_ISREG(info.st_mode):
            raise ApiError(400, f"filepath {given!r}: not a regular file")
        if info.st_nlink != 1:
            raise ApiError(403, f"filepath {given!r}: a file with other (hard) links is refused")
        if info.st_size > MAX_FILE_BYTES:
            raise ApiError(413, f"filepath {given!r}: larger than {MAX_FILE_BYTES} bytes")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_data_file(config: dict[str, Any], given: str) -> bytes:
    """The bytes of an allowed data file, read from the descriptor that was checked."""
    rel = check_given_path(given)
    fd = open_checked(config["config_file"].parent / rel, given, data_folders(config))
    with os.fdopen(fd, "rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]


def strip_paths(message: str) -> str:
    """A message with server folders shortened to file names (no layout leaks)."""
    words = [
        Path(w).name + (":" if w.endswith(":") else "") if w.startswith("/") else w
        for w in message.split(" ")
    ]
    return " ".join(words)


# ---- caches and the app's shared state -------------------------------------------------------


class DatasetCache:
    """A data set, reloaded only when its files change, with values derived from it.

    Requests read the observations and the test data many times between (rare) changes,
    so each is loaded once per file version.
    """

    def __init__(self, path: Path, hint: str, load=None, also: tuple[Path, ...] = ()):
        self.path, self.hint, self.also = path, hint, also
        self.load = load or dataset.load_dataset
        self.lock = threading.Lock()
        self.key, self.data, self.derived = None, None, {}

    def version(self) -> tuple:
        """What identifies the current content: mtime and size of each file."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise ApiError(503, f"{self.path.name} not found; {self.hint}") from None
        others = [
            (p.stat().st_mtime_ns, p.stat().st_size) if p.exists() else None for p in self.also
        ]
        return (stat.st_mtime_ns, stat.st_size, *others)

    def get(self, name: str | None = None, compute=None, model_sha256: str | None = None):
        """The data, or compute(data) memoized under (name, the model it used) for this
        file version (model_sha256 None: a value that does not depend on the model)."""
        key = self.version()
        with self.lock:
            if key != self.key:
                self.data, self.derived, self.key = self.load(self.path), {}, key
            if name is None:
                return self.data
            if (name, model_sha256) not in self.derived:
                self.derived[(name, model_sha256)] = compute(self.data)
            return self.derived[(name, model_sha256)]


class Memo:
    """One value per name, recomputed only when its key (file stamps, versions) changes."""

    def __init__(self):
        self.lock, self.values = threading.Lock(), {}

    def get(self, name: str, key: Any, compute):
        """compute() for this key, or the value kept from the last call with the same key."""
        with self.lock:
            kept = self.values.get(name)
        if kept is not None and kept[0] == key:
            return kept[1]
        value = compute()
        with self.lock:
            self.values[name] = (key, value)
        return value


STATE_KEY = "risk_assessment"  # the app.extensions entry holding the ApiState


@dataclass
class ApiState:
    """What every request of the API shares, built once by app.create_app.

    config: the loaded config.json; models: the served model; finaldata, observations,
    testdata: data sets cached per file version; metrics: the Prometheus counters;
    spec: the OpenAPI description; memo: what the dashboard computes once per run.
    """

    config: dict[str, Any]
    models: ModelHolder
    finaldata: DatasetCache
    observations: DatasetCache
    testdata: DatasetCache
    metrics: Metrics
    spec: dict[str, Any]
    memo: Memo = field(default_factory=Memo)


def state() -> ApiState:
    """The shared state of the app handling the current request."""
    return current_app.extensions[STATE_KEY]
