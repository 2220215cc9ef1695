"""The second shipped example: a SaaS company's accounts, in a schema of the user's own.

Deterministic (seeded). `python generate_data.py --example saas` writes, under
examples/saas/ (its config.json is committed beside them; the CSVs are not: `make
example-saas` writes them):
    practicedata/accounts_2025h1.csv, accounts_2025h2.csv   the old regime, 3,500 each
    practicedata/accounts_current.csv   1,000 current accounts re-observed, `churned` empty
    testdata/testdata.csv               1,000 accounts, half old, half new regime
    sourcedata/accounts_2026h1.csv      2,000 accounts of the new regime: the drifting batch

The schema (examples/saas/config.json): ten features (integer seats, tenure and tickets;
decimal spend and usage, usage optional with empty cells; NPS from -100 to 100; industry
as learnt levels; region and plan with declared levels; auto_renew as true/false), the
annual contract value as the value column, `churned` as yes/no, and the header's
`client_id` read as `account` through an alias (and `NPS` as `nps`, case-insensitively).

The new regime drifts on purpose: retail grows from 15% to 35% of the accounts and a new
industry, mining, appears (4%); retail and mining accounts churn far more than before,
auto-renewal no longer holds clients and support tickets weigh double (concept drift), so
a model refit on the batch predicts it better than one trained on the old regime.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEED = 20261206
# (folder, file, rows, regime)
FILES = [
    ("practicedata", "accounts_2025h1.csv", 3500, "old"),
    ("practicedata", "accounts_2025h2.csv", 3500, "old"),
    ("testdata", "testdata.csv", 1000, "mixed"),
    ("sourcedata", "accounts_2026h1.csv", 2000, "new"),
]
CURRENT_FILE = ("practicedata", "accounts_current.csv", 1000)
# Header as the export writes it; client_id is an alias of the schema's `account`.
HEADER = {"account": "client_id", "nps": "NPS"}
COLUMNS = [
    "account", "seats", "monthly_spend", "nps", "tenure_months", "support_tickets",
    "usage_per_seat", "industry", "region", "plan", "auto_renew", "annual_contract_value",
    "churned",
]  # fmt: skip
REGIONS = {"north": 0.30, "south": 0.25, "east": 0.25, "west": 0.20}
PLANS = {  # share, log-seats mean, price per seat and month, effect on the exit logit
    "basic": (0.45, 2.0, 12.0, 0.3),
    "pro": (0.40, 3.0, 30.0, 0.0),
    "enterprise": (0.15, 4.5, 55.0, -0.5),
}
MISSING_USAGE = 0.02  # share of accounts whose usage was not measured (an empty cell)
REGIMES = {
    "old": {
        "industry": {
            "technology": 0.25, "finance": 0.15, "healthcare": 0.15, "retail": 0.15,
            "manufacturing": 0.15, "education": 0.10, "media": 0.05,
        },
        "industry_effect": {
            "technology": -0.2, "finance": -0.3, "healthcare": 0.0, "retail": 0.2,
            "manufacturing": 0.1, "education": 0.3, "media": 0.2,
        },
        "intercept": -1.3, "auto_renew": -0.8, "tickets": 0.35,
    },
    "new": {
        "industry": {
            "technology": 0.18, "finance": 0.10, "healthcare": 0.10, "retail": 0.35,
            "manufacturing": 0.10, "education": 0.08, "media": 0.05, "mining": 0.04,
        },
        "industry_effect": {
            "technology": -0.2, "finance": -0.3, "healthcare": 0.0, "retail": 1.8,
            "manufacturing": 0.1, "education": 0.3, "media": 0.2, "mining": 1.2,
        },
        "intercept": -1.5, "auto_renew": 0.0, "tickets": 0.7,
    },
}  # fmt: skip


def pick(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    """n levels drawn with the given shares."""
    levels = list(shares)
    p = np.array([shares[k] for k in levels])
    return np.array(levels)[rng.choice(len(levels), size=n, p=p / p.sum())]


def draw_accounts(n: int, regime: str, rng: np.random.Generator) -> pd.DataFrame:
    """n accounts of a regime: features, contract value and the outcome (1 = churned)."""
    r = REGIMES[regime]
    plan = pick(rng, {k: v[0] for k, v in PLANS.items()}, n)
    log_seats, price, _ = (np.array([PLANS[p][i] for p in plan]) for i in (1, 2, 3))
    seats = np.maximum(1, np.floor(rng.lognormal(log_seats, 0.6))).astype(np.int64)
    spend = np.round(seats * price * rng.lognormal(0.0, 0.15, n), 2)
    frame = pd.DataFrame(
        {
            "seats": seats,
            "monthly_spend": spend,
            "nps": np.clip(np.round(rng.normal(25, 35, n)), -100, 100).astype(np.int64),
            "tenure_months": np.floor(rng.exponential(30, n)).astype(np.int64),
            "support_tickets": rng.poisson(0.8 * seats**0.25),
            "usage_per_seat": np.round(rng.gamma(4.0, 1.5, n), 1),
            "industry": pick(rng, r["industry"], n),
            "region": pick(rng, REGIONS, n),
            "plan": plan,
            "auto_renew": rng.random(n) < 0.6,
            "annual_contract_value": np.round(spend * 12 * rng.uniform(0.8, 1.0, n), 2),
        }
    )
    frame["churned"] = (rng.random(n) < exit_probability(frame, regime)).astype(np.int64)
    frame.loc[rng.random(n) < MISSING_USAGE, "usage_per_seat"] = np.nan
    return frame


def exit_probability(frame: pd.DataFrame, regime: str) -> np.ndarray:
    """The true P(churn) of each account under a regime (a missing usage counts as 6 h)."""
    r = REGIMES[regime]
    logit = (
        r["intercept"]
        - 0.55 * (np.log1p(frame["tenure_months"]) - 3.0)
        - 0.012 * frame["nps"]
        + r["tickets"] * (frame["support_tickets"] - 1.5)
        - 0.25 * (frame["usage_per_seat"].fillna(6.0) - 6.0)
        + r["auto_renew"] * frame["auto_renew"]
        + frame["plan"].map({k: v[3] for k, v in PLANS.items()})
        + frame["industry"].map(r["industry_effect"])
    )
    return 1.0 / (1.0 + np.exp(-logit.to_numpy(dtype=float)))


def accounts_for(n: int, regime: str, rng: np.random.Generator) -> pd.DataFrame:
    """Accounts of one regime, or half old and half new, shuffled, for 'mixed'."""
    if regime != "mixed":
        return draw_accounts(n, regime, rng)
    both = pd.concat([draw_accounts(n // 2, "old", rng), draw_accounts(n - n // 2, "new", rng)])
    return both.iloc[rng.permutation(n)].reset_index(drop=True)


def to_csv(frame: pd.DataFrame) -> str:
    """CSV text as the export writes it: its header names, true/false, yes/no, an empty
    cell for an unmeasured usage or an unknown outcome, LF line ends."""
    out = frame[COLUMNS].copy()
    out["monthly_spend"] = out["monthly_spend"].map("{:.2f}".format)
    out["annual_contract_value"] = out["annual_contract_value"].map("{:.2f}".format)
    out["usage_per_seat"] = out["usage_per_seat"].map(lambda v: "" if np.isnan(v) else f"{v:.1f}")
    out["auto_renew"] = out["auto_renew"].map({True: "true", False: "false"})
    out["churned"] = out["churned"].map({1: "yes", 0: "no"}).fillna("")
    return out.rename(columns=HEADER).to_csv(index=False, lineterminator="\n")


def example_files(seed: int = SEED) -> dict[str, str]:
    """Relative path (under examples/saas/) -> CSV text of every file of the example."""
    rng = np.random.default_rng(seed)
    total = sum(n for _, _, n, _ in FILES)
    ids = [f"acct-{i:06d}" for i in rng.choice(10**6, size=total, replace=False)]
    out, start, old = {}, 0, []
    for folder, name, n, regime in FILES:
        frame = accounts_for(n, regime, rng)
        frame.insert(0, "account", ids[start : start + n])
        start += n
        if folder == "practicedata":
            old.append(frame)
        out[f"{folder}/{name}"] = to_csv(frame)
    folder, name, n = CURRENT_FILE
    current = current_accounts(pd.concat(old), n, np.random.default_rng(seed + 1))
    out[f"{folder}/{name}"] = to_csv(current)
    return dict(sorted(out.items()))


def current_accounts(old: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """n accounts of the practice files that stayed, six months on: same industry, region
    and plan; fresh activity; the outcome unknown (an empty `churned`)."""
    stayed = old[old["churned"] == 0].sort_values("account")
    chosen = stayed.iloc[np.sort(rng.choice(len(stayed), size=n, replace=False))]
    fresh = draw_accounts(n, "old", rng)
    out = chosen.reset_index(drop=True).copy()
    for column in ("nps", "support_tickets", "usage_per_seat"):
        out[column] = fresh[column].to_numpy()
    out["tenure_months"] += 6
    out["churned"] = np.nan
    return out
