"""The records monitoring.py returns: small frozen values saying what was compared, on how
many rows, the effect, its interval and/or p-value, and the verdict.

A part of monitoring.py (only monitoring.py imports it; its callers reach the records
through monitoring's functions). Standard library only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """One statistical verdict: what was compared, on n rows, effect, interval, p-value."""

    compared: str
    n: int
    effect: float
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    verdict: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)

    def text(self) -> str:
        """One log line: 'compared: effect 0.031 [0.012, 0.050], p 0.002, n 500 -> True'."""
        interval = "" if self.low is None else f" [{self.low:.4g}, {self.high:.4g}]"
        p = "" if self.p_value is None else f", p {self.p_value:.3g}"
        return (
            f"{self.compared}: effect {self.effect:.4g}{interval}{p}, n {self.n} -> {self.verdict}"
        )


@dataclass(frozen=True)
class FeatureDrift:
    """One feature of a batch against its training bins."""

    feature: str
    psi: float
    chi_square: Verdict
    p_adjusted: float
    drift: bool


@dataclass(frozen=True)
class DataDrift:
    """Per-feature drift and the dataset verdict (any feature significant after Holm)."""

    n: int
    features: tuple[FeatureDrift, ...]
    verdict: bool
    method: str = "holm"


@dataclass(frozen=True)
class Estimate:
    """Label-free performance estimate at a cut-off, with simulated-label intervals."""

    n: int
    threshold: float
    f1: float
    f1_low: float
    f1_high: float
    precision: float
    recall: float
    expected_exit_rate: float


@dataclass(frozen=True)
class GateResult:
    """Candidate vs deployed on a holdout (differences are candidate - deployed)."""

    n: int
    logloss: Verdict
    roc_auc: Verdict
    f1: Verdict
    f1_candidate: float
    f1_deployed: float
    deploy: bool
    reason: str
