"""Did the calls help? The exit rate of contacted clients against clients of the same
predicted risk who were not contacted, once their labels have arrived.

Managers call the riskiest clients, so contacted clients would exit more often even if
the calls did nothing: comparing all contacted with all others mixes the calls with the
risk. Clients are therefore matched by predicted probability: split into strata (equal
shares of the contacted clients' probabilities), each stratum's difference in exit rate
(contacted minus not) is weighted by its contacted clients (the effect on those called),
with a normal interval from the strata's binomial variances. A stratum without both kinds
of client is left out and counted.

The caveat, which every display repeats: calls are not assigned at random. Clients a
manager chose to call may differ from uncalled clients of the same predicted risk in ways
the model does not see, and a call may change what the client would have done anyway. The
interval covers chance, not that choice. `stored_comparison` applies it to the store: a
client listed unlabelled whose label arrived later, contacted in between or not.
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from risk_assessment.core.columns import ColumnSchema
from risk_assessment.schema import dataset
from risk_assessment.store import accounts, records

CAVEAT = (
    "Calls were not assigned at random: called clients may differ from uncalled clients of "
    "the same predicted risk in ways the model does not see. The interval covers chance "
    "only; read the difference as a comparison, not as proof that the calls caused it."
)


def strata_edges(prob: np.ndarray, contacted: np.ndarray, strata: int) -> np.ndarray:
    """Cut points splitting the contacted clients' probabilities into equal shares
    (duplicates dropped), open at both ends."""
    inner = np.quantile(prob[contacted], np.linspace(0, 1, strata + 1)[1:-1])
    return np.unique(np.concatenate([[-np.inf], inner, [np.inf]]))


def calls_effect(
    prob: Any, contacted: Any, exited: Any, strata: int = 10, confidence: float = 0.95
) -> dict[str, Any]:
    """The change in exit rate among contacted clients that the calls go with.

    Args:
        prob: each client's predicted exit probability when the call list was made.
        contacted: whether the client was contacted (reached or not) after that.
        exited: the label that arrived later (1: exited).
    Returns:
        effect (contacted minus matched uncontacted exit rate; negative: fewer exits),
        low/high (the interval), naive (the unmatched difference, for contrast), the
        counts, strata used and left out, and the caveat.
    """
    prob, exited = np.asarray(prob, float), np.asarray(exited, float)
    contacted = np.asarray(contacted, bool)
    if contacted.sum() == 0 or (~contacted).sum() == 0:
        return {"effect": None, "reason": "needs both contacted and uncontacted clients"}
    stratum = np.digitize(prob, strata_edges(prob, contacted, strata)[1:-1])
    effect, variance, weight, used, left_out = strata_sums(stratum, contacted, exited)
    naive = float(exited[contacted].mean() - exited[~contacted].mean())
    counts = {"contacted": int(contacted.sum()), "not_contacted": int((~contacted).sum())}
    return (
        summary(effect, variance, weight, confidence)
        | counts
        | {
            "naive": naive,
            "strata": used,
            "strata_left_out": left_out,
            "confidence": confidence,
            "caveat": CAVEAT,
        }
    )


def strata_sums(stratum: np.ndarray, contacted: np.ndarray, exited: np.ndarray) -> tuple:
    """Over the strata holding both kinds of client: the contacted-weighted sum of exit-rate
    differences, of their variances (weight squared), the weight, the strata used; and
    the strata with contacted clients only (left out)."""
    effect = variance = weight = 0.0
    used = left_out = 0
    for s in np.unique(stratum):
        called, others = exited[(stratum == s) & contacted], exited[(stratum == s) & ~contacted]
        if len(called) == 0 or len(others) == 0:
            left_out += int(len(called) > 0)
            continue
        r1, r0, n1 = called.mean(), others.mean(), len(called)
        effect += n1 * (r1 - r0)
        variance += n1**2 * (r1 * (1 - r1) / n1 + r0 * (1 - r0) / len(others))
        weight, used = weight + n1, used + 1
    return effect, variance, weight, used, left_out


def summary(effect: float, variance: float, weight: float, confidence: float) -> dict:
    """The weighted effect and its normal interval (None without any usable stratum)."""
    if weight == 0:
        return {"effect": None, "low": None, "high": None}
    mean, se = effect / weight, np.sqrt(variance) / weight
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return {"effect": float(mean), "low": float(mean - z * se), "high": float(mean + z * se)}


def was_contacted(contacts: list[tuple[str, str]], since: str, until: str) -> bool:
    """True when a client was spoken to (any outcome but "no answer") from since until
    before until (ISO times)."""
    return any(since <= at < until and outcome != "no answer" for at, outcome in contacts)


def stored_comparison(folder: Path, model: Any, schema: ColumnSchema) -> dict[str, Any]:
    """calls_effect on the store: each client listed unlabelled and later labelled, scored
    by model on its listed observation, contacted between the two arrivals or not."""

    followed = accounts.followed_clients(folder)
    if not followed:
        return {"effect": None, "reason": "no label has arrived yet for a listed client"}
    rows = records.all_observations(folder, schema)
    frame = dataset.observations_frame(rows, schema).set_index("seq")
    listed = frame.loc[[f["listed_seq"] for f in followed], schema.feature_names]
    prob = model.predict_proba(listed)[:, 1]
    contacts = accounts.contacts_between(folder)
    contacted = [
        was_contacted(contacts.get(f["corporation"], []), f["listed_at"], f["labelled_at"])
        for f in followed
    ]
    return calls_effect(prob, contacted, [f["exited"] for f in followed])


def calls_sentences(found: dict[str, Any] | None) -> list[str]:
    """The comparison in words, for the PDF's appendix: the result (or why there is none
    yet) and the caveat."""
    if not found or found.get("effect") is None:
        reason = (found or {}).get("reason") or "no stratum holds contacted and uncontacted clients"
        return [f"Not yet: {reason}.", CAVEAT]
    points = {k: 100 * found[k] for k in ("effect", "low", "high", "naive")}
    direction = "less" if points["effect"] < 0 else "more"
    return [
        f"Contacted clients exited {abs(points['effect']):.1f} points {direction} often than "
        f"uncontacted clients of the same predicted risk ({found['confidence']:.0%} interval "
        f"{points['low']:+.1f} to {points['high']:+.1f} points; {found['contacted']:,} contacted "
        f"and {found['not_contacted']:,} uncontacted clients in {found['strata']} strata, "
        f"{found['strata_left_out']} left out). Without matching by risk the difference "
        f"would read {points['naive']:+.1f} points.",
        CAVEAT,
    ]
