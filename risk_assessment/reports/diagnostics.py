"""The logic under diagnostics.py: predictions, summary statistics, missing data, timings and
dependency versions.

What it reads and writes, and the command: the docstring of diagnostics.py.
"""

from __future__ import annotations

import logging
import platform
import re
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from risk_assessment.core.common import (
    FINALDATA,
    MODEL_META,
    PROJECT_DIR,
    DataError,
    format_number,
    format_table,
    now_iso,
    read_json,
    test_data_file,
    write_json,
)

import numpy as np
import pandas as pd
import requests
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.deployment.versions import load_deployed
from risk_assessment.modelling.scoring import exit_probabilities
from risk_assessment.monitoring.statistics import psi  # noqa: F401  (diagnostics.psi stays importable)
from risk_assessment.schema import dataset
from risk_assessment.store import records as store

log = logging.getLogger("diagnostics")

DEPENDENCIES_CACHE = "dependencies.json"
REQUIREMENTS = PROJECT_DIR / "requirements.txt"
PIN_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def model_predictions(
    data: pd.DataFrame, model, source: str = "data", schema: ColumnSchema = DEFAULT_SCHEMA
) -> pd.DataFrame:
    """Prediction (0/1) and exit probability per row, same length and order as data.

    Carries the client id when data has one.
    """
    features = dataset.feature_frame(data, source, schema)
    out = pd.DataFrame(index=data.index)
    if schema.id in data.columns:
        out[schema.id] = data[schema.id].astype(str)
    out["prediction"] = model.predict(features).astype(int) if len(features) else []
    out["probability"] = exit_probabilities(model, features, schema) if len(features) else []
    return out.reset_index(drop=True)


def dataframe_summary(
    data: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA
) -> dict[str, dict[str, float]]:
    """Mean, median and (sample) standard deviation of every numeric or boolean feature
    (categories have none)."""
    return {
        col: {
            "mean": float(data[col].mean()),
            "median": float(data[col].median()),
            "std": float(data[col].std()),
        }
        for col in [f.name for f in schema.features if f.type != "category"]
    }


def missing_data(data: pd.DataFrame) -> dict[str, float]:
    """Share of missing values (NaN or empty text) per column, 0.0 to 1.0."""
    if len(data) == 0:
        return {col: 0.0 for col in data.columns}
    shares = {}
    for col in data.columns:
        missing = data[col].isna()
        if not pd.api.types.is_numeric_dtype(data[col]):  # text: blank counts as missing
            missing |= data[col].astype(str).str.strip() == ""
        shares[col] = float(missing.mean())
    return shares


PSI_BANDS = (0.1, 0.25)  # below: no shift; between: moderate; above: significant


def psi_band(value: float) -> str:
    """'none', 'moderate' or 'significant' by the usual 0.1 / 0.25 PSI bands."""
    low, high = PSI_BANDS
    return "none" if value < low else "moderate" if value < high else "significant"


def data_drift(
    profile: dict[str, Any], data: pd.DataFrame, max_drifted_share: float
) -> dict[str, Any]:
    """PSI per feature of data against a training profile, and a dataset verdict.

    A feature has drifted when its PSI is in the 'significant' band; the dataset has
    drifted when the share of drifted features exceeds max_drifted_share.
    """
    features = {}
    for col, ref in profile.items():
        values = data[col].to_numpy(dtype=float)
        bins = np.searchsorted(np.asarray(ref["edges"]), values, side="right")
        counts = np.bincount(bins, minlength=len(ref["shares"]))
        value = psi(ref["shares"], counts / max(len(values), 1))
        features[col] = {
            "psi": round(value, 4),
            "band": psi_band(value),
            "mean_reference": ref["mean"],
            "mean_new": float(values.mean()),
        }
    drifted = [c for c, f in features.items() if f["band"] == "significant"]
    share = len(drifted) / max(len(features), 1)
    return {
        "features": features,
        "drifted_features": drifted,
        "drifted_share": share,
        "drift": share > max_drifted_share,
    }


def execution_time(config: dict[str, Any]) -> dict[str, float]:
    """Seconds taken by ingestion and by training, run on a scratch copy of the input
    folder (in a temporary workspace), so that measuring never changes the real artifacts."""
    from risk_assessment.modelling import training
    from risk_assessment.sources import (
        ingestion,  # timing the two steps means running them: the only use of either
    )

    with tempfile.TemporaryDirectory(prefix="risk-timing-") as tmp:
        scratch = Path(tmp)
        shutil.copytree(config["input_folder_path"], scratch / "input")
        start = time.perf_counter()
        settings = {**config["ingestion"], "settle_seconds": 0.0}
        schema = config["schema"]
        result = ingestion.ingest(scratch / "input", scratch / "output", settings, None, schema)
        ingestion.save_ingestion(scratch / "output", result)
        ingest_seconds = time.perf_counter() - start
        if not (scratch / "output" / FINALDATA).exists():
            raise DataError(f"{config['input_folder_path']}: no valid data to time training on")
        data = dataset.load_dataset(scratch / "output" / FINALDATA, schema)
        start = time.perf_counter()
        training.train_model(data, config["training"], "training data", None, schema)
        train_seconds = time.perf_counter() - start
    return {
        "ingestion_seconds": round(ingest_seconds, 4),
        "training_seconds": round(train_seconds, 4),
    }


def recorded_timings(config: dict[str, Any]) -> dict[str, Any]:
    """Seconds of the last real ingestion and training runs, from their records."""
    runs = store.load_record(config["output_folder_path"]).get("runs", [])
    meta = read_json(config["output_model_path"] / MODEL_META, {}) or {}
    return {
        "ingestion_seconds": runs[-1]["seconds"] if runs else None,
        "ingestion_time": runs[-1]["time"] if runs else None,
        "training_seconds": meta.get("seconds"),
        "training_time": meta.get("trained_at"),
    }


def pinned_requirements(path: Path = REQUIREMENTS) -> list[tuple[str, str]]:
    """(name, pinned version) for every `name==version` line of a requirements file."""
    pins = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN_RE.match(line)
        if match:
            pins.append((match.group(1), match.group(2)))
    return pins


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def latest_version(name: str, index_url: str, timeout: float) -> tuple[Any, ...]:
    """(latest version, None, its requires_python) from a PyPI-style JSON index, or
    (None, why not, None)."""
    try:
        answer = requests.get(f"{index_url.rstrip('/')}/{name}/json", timeout=timeout)
        answer.raise_for_status()
        info = answer.json()["info"]
        return str(info["version"]), None, info.get("requires_python") or None
    except requests.Timeout:
        return None, f"index did not answer within {timeout:g} s", None
    except requests.ConnectionError:
        return None, "index unreachable", None
    except requests.HTTPError as exc:
        return None, f"index answered HTTP {exc.response.status_code}", None
    except (ValueError, KeyError, TypeError):
        return None, "index answered something that is not package JSON", None


def runs_on_this_python(requires_python: str | None) -> bool:
    """Whether this interpreter satisfies a requires_python specifier (True if unknown)."""
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(platform.python_version())
    except InvalidSpecifier:
        return True


def is_upgrade(installed: str, latest: str) -> bool:
    """Whether latest is a newer release than installed (PEP 440 order; a lower or equal
    latest is not). Versions PEP 440 cannot read are compared as text: different is newer."""
    try:
        return Version(latest) > Version(installed)
    except InvalidVersion:
        return latest != installed


def look_up_all(names: list[str], index_url: str, timeout: float) -> list[tuple[Any, ...]]:
    """latest_version of every name, in parallel, within one deadline (timeout + 1 s).

    A look-up still running at the deadline (a server trickling bytes) is reported as
    unanswered; its daemon thread never keeps the process alive.
    """
    results: list[tuple[Any, ...] | None] = [None] * len(names)

    def work(i: int, name: str) -> None:
        try:
            results[i] = latest_version(name, index_url, timeout)
        except Exception as exc:  # e.g. the connection broken mid-body: a reason, not a crash
            results[i] = (None, f"index look-up failed ({type(exc).__name__})", None)

    threads = [
        threading.Thread(target=work, args=(i, n), daemon=True, name=f"index-{n}")
        for i, n in enumerate(names)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 1
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = (None, f"index did not answer within {timeout:g} s", None)
    return [late if r is None else r for r in list(results)]


def package_versions(
    index_url: str, timeout: float = 3.0, requirements: Path = REQUIREMENTS
) -> list[dict[str, Any]]:
    """Per pinned requirement: pinned, installed and latest version (or why unknown), every
    package; `outdated` when an upgrade is possible (a newer release for this Python)."""
    pins = pinned_requirements(requirements)
    latest = look_up_all([name for name, _ in pins], index_url, timeout)
    rows = []
    for (name, pinned), (newest, why, needs) in zip(pins, latest, strict=True):
        installed = installed_version(name)
        known = newest is not None and installed is not None
        # outdated means an upgrade is possible: not if the latest needs another Python
        outdated = is_upgrade(installed, newest) and runs_on_this_python(needs) if known else None
        rows.append(
            {
                "package": name,
                "pinned": pinned,
                "installed": installed,
                "latest": newest,
                "latest_unknown_reason": why,
                "latest_requires_python": needs,
                "outdated": outdated,
            }
        )
    return rows


RETRY_UNKNOWN_HOURS = 1.0  # a table with unknown "latest" versions is retried sooner


def cached_dependencies(
    cache: Path, index_url: str, timeout: float, max_age_hours: float
) -> dict[str, Any]:
    """The dependency table from the cache if fresh enough, else refreshed.

    Fresh means: younger than max_age_hours, from the same index, and, when some
    "latest" versions were unknown, younger than RETRY_UNKNOWN_HOURS.
    """
    cached = read_cached_dependencies(cache)
    if cached and cached.get("index_url") == index_url:
        age = datetime.now(UTC) - datetime.fromisoformat(cached["checked_at"])
        incomplete = any(p["latest"] is None for p in cached["packages"])
        limit = min(max_age_hours, RETRY_UNKNOWN_HOURS) if incomplete else max_age_hours
        if age < timedelta(hours=limit):
            return cached
    fresh = {
        "checked_at": now_iso(),
        "index_url": index_url,
        "packages": package_versions(index_url, timeout),
    }
    write_json(cache, fresh)
    return fresh


def read_cached_dependencies(cache: Path) -> dict[str, Any] | None:
    """The cached dependency table as it is, never refreshed (for fast API answers)."""
    return read_json(cache, None) if cache.exists() else None


DEPENDENCY_COLUMNS = ["package", "pinned", "installed", "latest", "outdated"]
DEPENDENCY_COLUMNS += ["latest_requires_python", "latest_unknown_reason"]


def data_sections(data: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA) -> list[str]:
    """The summary statistics and missing-data tables of finaldata.csv."""
    summary = [
        {"feature": k, **{s: format_number(v) for s, v in d.items()}}
        for k, d in dataframe_summary(data, schema).items()
    ]
    missing = [{"column": k, "share": format_number(v)} for k, v in missing_data(data).items()]
    return [
        "Summary statistics of finaldata.csv\n"
        + format_table(summary, ["feature", "mean", "median", "std"]),
        "Missing data share of finaldata.csv\n" + format_table(missing, ["column", "share"]),
    ]


def diagnostics_text(config: dict[str, Any]) -> str:
    """Every diagnostic as text tables (refreshing the dependency cache when it is old)."""
    schema = config["schema"]
    data = dataset.load_dataset(config["output_folder_path"] / FINALDATA, schema)
    model, manifest = load_deployed(
        config["prod_deployment_path"], config["deployment"]["signing_key_path"], config["schema"]
    )
    test = dataset.load_dataset(test_data_file(config["test_data_path"]), schema)
    preds = model_predictions(test, model, "test data", schema)
    sections = [
        f"Deployed model {manifest['version']} (deployed {manifest['deployed_at']}, "
        f"F1 {manifest['f1']:.4f})",
        f"Predictions on test data: {len(preds)} rows, {int(preds.prediction.sum())} predicted "
        f"exits, mean exit probability {preds.probability.mean():.4f}",
        *data_sections(data, schema),
    ]
    timing = [
        {"step": k.removesuffix("_seconds"), "seconds": v}
        for k, v in execution_time(config).items()
    ]
    sections.append(
        "Execution time (scratch copy), seconds\n" + format_table(timing, ["step", "seconds"])
    )
    deps = dependencies_for(config)
    sections.append(
        f"Dependencies (checked {deps['checked_at']})\n"
        + format_table(deps["packages"], DEPENDENCY_COLUMNS)
    )
    return "\n\n".join(sections)


def dependencies_for(config: dict[str, Any]) -> dict[str, Any]:
    """The (cached) dependency table with the settings of a loaded config."""
    d = config["diagnostics"]
    index = d["package_index_url"], d["index_timeout_seconds"], d["cache_hours"]
    return cached_dependencies(config["output_model_path"] / DEPENDENCIES_CACHE, *index)
