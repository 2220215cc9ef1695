"""Data drift by feature type: numbers by their training bins, categories by their level
shares, booleans as a two-level category, and the share of missing values.

Pure functions on frames and the schema (core/columns.py). profile_by_type(frame, schema)
summarises the training data as plain JSON-ready values (saved with the model, as today's
decile profile is); drift_by_type(profile, batch, schema) compares a batch with it:
- integer and number: the batch against the training deciles, chi-square on the bin
  counts and PSI, as statistics.data_drift_verdict does today;
- category and boolean: a chi-square test of homogeneity on the 2 x k table of level
  counts (training, batch): size-aware, unlike PSI, which is reported beside it; a level
  never seen in training is named with its share of the batch;
- optional features (required false): the share of missing values, training against
  batch (a 2 x 2 chi-square), folded into the feature's p-value (Bonferroni).
p-values are Holm-adjusted across features; each result carries the feature's label.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from risk_assessment.core.columns import FALSE_WORDS, TRUE_WORDS, ColumnSchema, Feature
from risk_assessment.monitoring.statistics import (
    PSI_FLOOR,
    bin_counts,
    binned_chi_square,
    holm,
    psi,
)
from risk_assessment.monitoring.verdicts import Verdict

BINS = 10  # deciles, as the training profile of today


@dataclass(frozen=True)
class TypedFeatureDrift:
    """One feature of a batch against its training profile, in words."""

    feature: str
    label: str
    type: str
    test: Verdict  # numbers: binned chi-square; categories: level-count homogeneity
    psi: float
    p_adjusted: float
    drift: bool
    new_levels: tuple[tuple[str, float], ...] = ()  # (level, share of the batch)
    largest_shift: tuple[str, float, float] | None = None  # (level, training, batch share)
    missing: tuple[float, float] | None = None  # missing share (training, batch)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the test as its own dict)."""
        out = asdict(self)
        out["new_levels"] = [list(pair) for pair in self.new_levels]
        return out

    def text(self) -> str:
        """One line: 'industry: drift (p 0.0001, PSI 0.31); 'retail' 15% -> 35%; ...'."""
        state = "drift" if self.drift else "no drift"
        parts = [f"{self.label}: {state} (p {self.p_adjusted:.3g}, PSI {self.psi:.3f})"]
        if self.largest_shift:
            level, old, new = self.largest_shift
            parts.append(f"'{level}' {old:.0%} -> {new:.0%} of rows")
        parts += [f"new level '{lv}' ({share:.0%} of the batch)" for lv, share in self.new_levels]
        if self.missing and self.missing != (0.0, 0.0):
            parts.append(f"missing {self.missing[0]:.1%} -> {self.missing[1]:.1%}")
        return "; ".join(parts)


@dataclass(frozen=True)
class TypedDrift:
    """Per-feature drift by type, and the dataset verdict (any feature after Holm)."""

    n: int
    features: tuple[TypedFeatureDrift, ...]
    verdict: bool

    @property
    def drifted(self) -> list[str]:
        """The labels of the drifted features, in schema order."""
        return [f.label for f in self.features if f.drift]

    def text(self) -> str:
        """One log line: 'data drift on 2000 rows: drift in industry (new level 'mining')'."""
        if not self.verdict:
            return f"data drift on {self.n} rows: none"
        named = "; ".join(
            f.label + "".join(f" (new level '{lv}')" for lv, _ in f.new_levels)
            for f in self.features
            if f.drift
        )
        return f"data drift on {self.n} rows: drift in {named}"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values: the verdict and, per feature, its numbers and words."""
        return {
            "n": self.n,
            "verdict": self.verdict,
            "drifted": self.drifted,
            "features": {f.feature: f.as_dict() for f in self.features},
        }

    def new_level_texts(self) -> list[str]:
        """'industry: new level 'mining' (4% of the batch)', one per new level."""
        return [
            f"{f.label}: new level '{level}' ({share:.0%} of the batch)"
            for f in self.features
            for level, share in f.new_levels
        ]


def is_missing(values: pd.Series) -> pd.Series:
    """True where a cell is empty: NaN, None or blank text."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.isna()  # typed already: no text to be blank (and no str() of floats)
    return values.isna() | values.astype(str).str.strip().eq("")


def level_texts(values: pd.Series, feature: Feature) -> pd.Series:
    """A category's or boolean's present cells as level texts (booleans: 'true'/'false')."""
    text = values.astype(str).str.strip()
    if feature.type == "boolean":
        lower = text.str.lower()
        text = lower.where(~lower.isin(TRUE_WORDS), "true").where(~lower.isin(FALSE_WORDS), "false")
    return text


def level_profile(values: pd.Series, feature: Feature) -> dict[str, Any]:
    """profile_feature() of a category or boolean: each distinct cell is read as a level
    (or as missing) once, and its rows counted, so 1,000,000 rows cost one count."""
    counts = values.value_counts(dropna=False)
    distinct = pd.Series(counts.index.to_numpy(dtype=object), dtype=object)
    missing = is_missing(distinct).to_numpy()
    rows = counts.to_numpy()
    texts = level_texts(distinct[~missing], feature).to_numpy(dtype=object)
    levels = pd.Series(rows[~missing]).groupby(texts).sum().sort_index()
    return {
        "type": feature.type,
        "rows": int(rows[~missing].sum()),
        "missing": int(rows[missing].sum()),
        "levels": {str(k): int(v) for k, v in levels.items()},
    }


def decile_counts(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """bin_counts(edges, x, len(edges) + 1) of values without NaN, counted as the rows at
    or above each edge: 9 comparisons of a million training values take a tenth of the
    time of a binary search per value (0.03 s against 0.3 s for 15 numbers)."""
    above = [len(x), *(np.count_nonzero(x >= edge) for edge in edges), 0]
    return -np.diff(np.asarray(above, dtype=np.int64))


def profile_feature(values: pd.Series, feature: Feature) -> dict[str, Any]:
    """One feature's training profile: present and missing rows; numbers: mean, std,
    decile edges and bin shares; categories and booleans: the count of each level."""
    if not feature.numeric:
        return level_profile(values, feature)
    missing = is_missing(values)
    present = values[~missing]
    out: dict[str, Any] = {
        "type": feature.type,
        "rows": len(present),
        "missing": int(missing.sum()),
    }
    x = pd.to_numeric(present, errors="coerce").dropna().to_numpy(dtype=float)
    quantiles = np.linspace(0, 1, BINS + 1)[1:-1]
    edges = np.unique(np.quantile(x, quantiles)) if len(x) else np.array([])
    counts = decile_counts(edges, x)
    out.update(
        mean=float(x.mean()) if len(x) else 0.0,
        std=float(x.std(ddof=1)) if len(x) > 1 else 0.0,
        edges=edges.tolist(),
        shares=(counts / max(len(x), 1)).tolist(),
    )
    return out


def profile_by_type(frame: pd.DataFrame, schema: ColumnSchema) -> dict[str, dict[str, Any]]:
    """The training profile of every schema feature (JSON-ready: saved with the model)."""
    return {f.name: profile_feature(frame[f.name], f) for f in schema.features}


MIN_EXPECTED = 5  # the chi-square's rule of thumb: every cell's expected count at least 5


def pooled(ref: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The 2 x k table for the chi-square: levels whose expected count (in the smaller
    row) is under MIN_EXPECTED pooled into one column, and that pool left out when it is
    still under it. One batch row of a new level (expected count near 0) no longer makes
    a p-value of 0.004 on its own; a new level of many rows stays in the test."""
    cols = ref + new
    expected = min(ref.sum(), new.sum()) * cols / cols.sum()
    rare = expected < MIN_EXPECTED
    table = [ref[~rare], new[~rare]]
    if expected[rare].sum() >= MIN_EXPECTED:
        table = [np.append(table[0], ref[rare].sum()), np.append(table[1], new[rare].sum())]
    return np.vstack(table)


def level_test(reference: dict[str, int], batch: pd.Series, alpha: float) -> dict[str, Any]:
    """Level shares of a batch against the training level counts: chi-square homogeneity
    on the 2 x k table (rare levels pooled), PSI, new levels (with their batch share) and
    the largest shift."""
    counts = batch.value_counts()
    levels = sorted(set(reference) | set(counts.index))
    ref = np.array([reference.get(lv, 0) for lv in levels], dtype=float)
    new = np.array([counts.get(lv, 0) for lv in levels], dtype=float)
    n = int(new.sum())
    if n == 0 or ref.sum() == 0:
        return {"test": Verdict("level shares chi-square", n, 0.0, p_value=1.0), "psi": 0.0}
    table = pooled(ref, new)
    stat, p = 0.0, 1.0  # fewer than two columns of enough rows: nothing to test
    if table.shape[1] >= 2 and (table.sum(axis=1) > 0).all():
        stat, p, _, _ = stats.chi2_contingency(table, correction=False)
    ref_share, new_share = ref / ref.sum(), new / n
    moved = int(np.argmax(np.abs(new_share - ref_share)))
    fresh = [(lv, float(s)) for lv, r, s in zip(levels, ref, new_share, strict=True) if r == 0]
    return {
        "test": Verdict(
            "level shares chi-square",
            n,
            math.sqrt(stat / n),
            p_value=float(p),
            verdict=bool(p < alpha),
        ),
        "psi": psi(ref_share, new_share, PSI_FLOOR),
        "new_levels": tuple(sorted(fresh, key=lambda t: -t[1])),
        "largest_shift": (levels[moved], float(ref_share[moved]), float(new_share[moved])),
    }


def missing_test(profile: dict[str, Any], missing: pd.Series) -> tuple[float, float, float]:
    """(training share, batch share, p-value) of missing values: 2 x 2 chi-square."""
    ref = np.array([profile["missing"], profile["rows"]], dtype=float)
    new = np.array([missing.sum(), (~missing).sum()], dtype=float)
    shares = (ref[0] / max(ref.sum(), 1), new[0] / max(new.sum(), 1))
    table = np.vstack([ref, new])
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return float(shares[0]), float(shares[1]), 1.0
    _, p, _, _ = stats.chi2_contingency(table, correction=False)
    return float(shares[0]), float(shares[1]), float(p)


def feature_test(
    profile: dict[str, Any], values: pd.Series, feature: Feature, alpha: float
) -> dict[str, Any]:
    """One feature's test by type, its missing share when optional, and its p-value."""
    missing = is_missing(values)
    present = values[~missing]
    if feature.numeric:
        x = pd.to_numeric(present, errors="coerce").dropna().to_numpy(dtype=float)
        test = binned_chi_square(profile["edges"], profile["shares"], x, profile["rows"], alpha)
        test = replace(test, verdict=bool(test.verdict))  # numpy's bool is not JSON
        found = bin_counts(profile["edges"], x, len(profile["shares"])) / max(len(x), 1)
        out = {"test": test, "psi": psi(profile["shares"], found) if len(x) else 0.0}
    else:
        out = level_test(profile["levels"], level_texts(present, feature), alpha)
    out["p"] = 1.0 if out["test"].p_value is None else out["test"].p_value
    if not feature.required:
        old, new, p = missing_test(profile, missing)
        out["missing"] = (old, new)
        out["p"] = min(1.0, 2 * min(out["p"], p))  # two tests of one feature: Bonferroni
    return out


def drift_by_type(
    profile: dict[str, dict[str, Any]],
    batch: pd.DataFrame,
    schema: ColumnSchema,
    alpha: float = 0.05,
) -> TypedDrift:
    """Each profiled schema feature of the batch against its training profile, by type;
    p-values Holm-adjusted across features. Dataset drift: any feature left significant."""
    features = [f for f in schema.features if f.name in profile and f.name in batch]
    tests = [feature_test(profile[f.name], batch[f.name], f, alpha) for f in features]
    adjusted = holm([t["p"] for t in tests]) if tests else []
    results = tuple(
        TypedFeatureDrift(
            feature=f.name,
            label=f.words,
            type=f.type,
            test=t["test"],
            psi=float(t["psi"]),
            p_adjusted=float(padj),
            drift=bool(padj < alpha),
            new_levels=t.get("new_levels", ()),
            largest_shift=t.get("largest_shift"),
            missing=t.get("missing"),
        )
        for f, t, padj in zip(features, tests, adjusted, strict=True)
    )
    return TypedDrift(len(batch), results, any(r.drift for r in results))
