"""typed_drift.py: data drift by feature type, named in the schema's words."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_assessment.core.columns import parse_schema
from risk_assessment.core.settings import load_config
from risk_assessment.monitoring import statistics
from risk_assessment.monitoring.typed_drift import (
    decile_counts,
    drift_by_type,
    pooled,
    profile_by_type,
)
from risk_assessment.samples import saas
from tests.conftest import ROOT

SCHEMA = parse_schema(
    {
        "id": "account",
        "target": {"column": "churned", "positive": "yes", "negative": "no"},
        "features": {
            "spend": {"type": "number", "min": 0, "label": "monthly spend"},
            "usage": {"type": "number", "min": 0, "required": False},
            "industry": {"type": "category", "label": "sector"},
            "auto_renew": {"type": "boolean", "label": "auto-renewal"},
        },
    }
)
SHARES = {"technology": 0.4, "retail": 0.3, "finance": 0.3}


def accounts(n: int, seed: int, **change) -> pd.DataFrame:
    """n accounts; change: industry shares, spend_scale, renew share, usage_missing."""
    rng = np.random.default_rng(seed)
    shares = change.get("industry", SHARES)
    usage = np.round(rng.gamma(4.0, 1.5, n), 1).astype(object)
    usage[rng.random(n) < change.get("usage_missing", 0.02)] = ""
    return pd.DataFrame(
        {
            "account": [f"a{i}" for i in range(n)],
            "spend": rng.lognormal(5, 1, n) * change.get("spend_scale", 1.0),
            "usage": usage,
            "industry": rng.choice(list(shares), size=n, p=list(shares.values())),
            "auto_renew": np.where(rng.random(n) < change.get("renew", 0.6), "TRUE", "false"),
        }
    )


@pytest.fixture(scope="module")
def profile() -> dict:
    """The training profile of 5,000 accounts, through JSON as it is saved with a model."""
    return json.loads(json.dumps(profile_by_type(accounts(5000, seed=1), SCHEMA)))


def by_feature(drift) -> dict:
    """The per-feature results by column name."""
    return {f.feature: f for f in drift.features}


def test_an_unchanged_batch_is_not_flagged(profile):
    """A fresh batch from the same world: no feature drifts (fixed seed)."""
    drift = drift_by_type(profile, accounts(2000, seed=2), SCHEMA)
    assert drift.verdict is False and drift.drifted == []
    assert [f.label for f in drift.features] == ["monthly spend", "usage", "sector", "auto-renewal"]
    assert all(f.new_levels == () for f in drift.features)


def test_a_shifted_category_is_flagged_and_named(profile):
    """Retail from 30% to 50%: the sector drifts, named by its label and its level; the
    other features do not."""
    moved = {"technology": 0.3, "retail": 0.5, "finance": 0.2}
    drift = drift_by_type(profile, accounts(2000, seed=3, industry=moved), SCHEMA)
    assert drift.verdict and drift.drifted == ["sector"]
    sector = by_feature(drift)["industry"]
    level, old, new = sector.largest_shift
    assert level == "retail" and abs(old - 0.3) < 0.02 and abs(new - 0.5) < 0.03
    assert sector.test.compared == "level shares chi-square" and sector.p_adjusted < 1e-6
    assert re.match(r"sector: drift \(p .*\); 'retail' 3\d% -> 5\d% of rows$", sector.text())


def test_a_new_level_is_named_with_its_share(profile):
    """A level never seen in training is named with its share of the batch."""
    shares = {"technology": 0.38, "retail": 0.29, "finance": 0.29, "mining": 0.04}
    drift = drift_by_type(profile, accounts(3000, seed=4, industry=shares), SCHEMA)
    sector = by_feature(drift)["industry"]
    assert [level for level, _ in sector.new_levels] == ["mining"]
    assert abs(sector.new_levels[0][1] - 0.04) < 0.01
    assert drift.new_level_texts() == ["sector: new level 'mining' (4% of the batch)"]
    assert sector.drift


def test_the_level_test_is_size_aware(profile):
    """The same small shift (retail 30% -> 33%) is noise on 300 rows and drift on 30,000;
    PSI, blind to size, is about the same for both."""
    moved = {"technology": 0.37, "retail": 0.33, "finance": 0.30}
    small = by_feature(drift_by_type(profile, accounts(300, seed=13, industry=moved), SCHEMA))
    large = by_feature(drift_by_type(profile, accounts(30000, seed=13, industry=moved), SCHEMA))
    assert not small["industry"].drift and large["industry"].drift
    assert abs(small["industry"].psi - large["industry"].psi) < 0.01


def test_booleans_are_a_two_level_category(profile):
    """TRUE/false cells are the levels true and false; a shift in their share is drift."""
    assert profile["auto_renew"]["levels"].keys() == {"false", "true"}
    drift = drift_by_type(profile, accounts(2000, seed=14, renew=0.4), SCHEMA)
    renew = by_feature(drift)["auto_renew"]
    assert renew.drift and renew.largest_shift[0] in ("true", "false")
    assert drift.drifted == ["auto-renewal"]


def test_the_missing_share_of_an_optional_feature(profile):
    """usage (required false): 2% -> 15% missing is drift, its shares reported; required
    features carry no missing share."""
    drift = drift_by_type(profile, accounts(2000, seed=7, usage_missing=0.15), SCHEMA)
    usage = by_feature(drift)["usage"]
    assert usage.drift and drift.drifted == ["usage"]
    old, new = usage.missing
    assert abs(old - 0.02) < 0.01 and abs(new - 0.15) < 0.02
    assert "missing 2." in usage.text() and by_feature(drift)["spend"].missing is None


def test_numbers_drift_as_today(profile):
    """A number is tested on the training deciles exactly as statistics.py does."""
    batch = accounts(2000, seed=8, spend_scale=1.3)
    spend = by_feature(drift_by_type(profile, batch, SCHEMA))["spend"]
    today = statistics.binned_chi_square(
        profile["spend"]["edges"], profile["spend"]["shares"], batch["spend"], 5000
    )
    assert spend.test.p_value == pytest.approx(today.p_value) and spend.drift
    assert spend.psi > 0.05 and spend.largest_shift is None


def test_an_empty_batch_and_a_feature_without_profile():
    """No rows: nothing drifts; a feature the profile lacks (added later) is skipped."""
    frame = accounts(500, seed=9)
    profile = profile_by_type(frame, SCHEMA)
    del profile["usage"]
    drift = drift_by_type(profile, frame.iloc[:0], SCHEMA)
    assert drift.n == 0 and not drift.verdict
    assert [f.feature for f in drift.features] == ["spend", "industry", "auto_renew"]


def test_the_verdict_as_one_line_and_as_json(profile):
    """text() names the drifted features by label with their new levels; as_dict() is
    plain JSON; a clean batch says none."""
    shares = {"technology": 0.3, "retail": 0.45, "finance": 0.2, "mining": 0.05}
    drift = drift_by_type(profile, accounts(2000, seed=15, industry=shares), SCHEMA)
    assert drift.text() == "data drift on 2000 rows: drift in sector (new level 'mining')"
    again = json.loads(json.dumps(drift.as_dict()))
    assert again["drifted"] == ["sector"] and again["features"]["industry"]["drift"] is True
    assert again["features"]["industry"]["new_levels"][0][0] == "mining"
    assert again["features"]["spend"]["test"]["compared"] == "binned chi-square"
    clean = drift_by_type(profile, accounts(2000, seed=2), SCHEMA)
    assert clean.text() == "data drift on 2000 rows: none"


def test_the_saas_example_batch_drifts_in_its_industry_only():
    """On the SaaS example (its config's schema, header aliases applied): the later batch
    against the practice files names the industry and its new level, nothing else; the
    second practice file against the first moves nothing."""
    schema = load_config(ROOT / "examples" / "saas" / "config.json")["schema"]
    files = saas.example_files()

    def read(rel: str) -> pd.DataFrame:
        data = pd.read_csv(io.StringIO(files[rel]), dtype=str, keep_default_na=False)
        data.columns = [schema.aliases.get(c.lower(), c.lower()) for c in data.columns]
        return data

    first = profile_by_type(read("practicedata/accounts_2025h1.csv"), schema)
    batch = drift_by_type(first, read("sourcedata/accounts_2026h1.csv"), schema)
    assert batch.drifted == ["industry"]
    assert batch.new_level_texts() == ["industry: new level 'mining' (4% of the batch)"]
    assert not drift_by_type(first, read("practicedata/accounts_2025h2.csv"), schema).verdict


KINDS = ["integer", "number", "category", "boolean"]
VALUES = {
    "integer": st.one_of(st.integers(-5, 50), st.just("")),
    "number": st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.just(None)),
    "category": st.sampled_from(["a", "b", "c", " d ", "", None]),
    "boolean": st.sampled_from([True, False, "TRUE", "no", "1", 0, ""]),
}


@st.composite
def worlds(draw):
    """A random schema (1-5 features of random types, optional or not) and a training
    frame and batch of 0-40 rows each under it, with missing cells anywhere."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
    optional = draw(st.lists(st.booleans(), min_size=len(kinds), max_size=len(kinds)))
    features = {
        f"f{i}": {"type": kind, "required": not opt}
        for i, (kind, opt) in enumerate(zip(kinds, optional, strict=True))
    }
    schema = parse_schema({"id": "id", "target": "y", "features": features})

    def frame(rows: int) -> pd.DataFrame:
        return pd.DataFrame(
            {name: draw(st.lists(VALUES[kinds[i]], min_size=rows, max_size=rows))
             for i, name in enumerate(features)}
        )  # fmt: skip

    return schema, frame(draw(st.integers(0, 40))), frame(draw(st.integers(0, 40)))


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_any_schema_and_frames_give_a_verdict(world):
    """Random types, sizes (empty too) and missing cells: a verdict for every feature,
    p-values in [0, 1], JSON-ready, never an exception."""
    schema, train, batch = world
    profile = json.loads(json.dumps(profile_by_type(train, schema)))
    drift = drift_by_type(profile, batch, schema)
    assert [f.feature for f in drift.features] == schema.feature_names
    assert all(0.0 <= f.p_adjusted <= 1.0 and f.psi >= 0 for f in drift.features)
    assert json.loads(json.dumps(drift.as_dict()))["n"] == len(batch)
    assert drift.text().startswith(f"data drift on {len(batch)} rows: ")


def test_one_row_of_a_new_level_is_named_not_drift(profile):
    """One batch row of a level never seen in training (1 of 185): named with its share,
    but not drift on its own: its expected count is far below the chi-square's 5, so it is
    pooled with the other rare levels, and left out while the pool stays that thin."""
    batch = accounts(185, seed=21)
    batch.loc[7, "industry"] = "Île-de-France"
    sector = by_feature(drift_by_type(profile, batch, SCHEMA))["industry"]
    assert [level for level, _ in sector.new_levels] == ["Île-de-France"]
    assert not sector.drift and sector.p_adjusted > 0.05


def test_rare_levels_are_pooled_for_the_chi_square():
    """Levels whose expected count is under 5 are pooled; a pool under 5 is left out."""
    ref, new = np.array([500.0, 400.0, 3.0, 2.0, 0.0]), np.array([100.0, 80.0, 1.0, 1.0, 1.0])
    assert pooled(ref, new).tolist() == [[500.0, 400.0], [100.0, 80.0]]
    ref, new = np.array([500.0, 400.0, 14.0, 12.0]), np.array([100.0, 80.0, 4.0, 3.0])
    assert pooled(ref, new).tolist() == [[500.0, 400.0, 26.0], [100.0, 80.0, 7.0]]


def test_booleans_read_every_accepted_form():
    """Y/N cells are the levels true and false, as the rules read them (schema/cells.py)."""
    frame = accounts(200, seed=5).assign(auto_renew=["Y", "n"] * 100)
    assert profile_by_type(frame, SCHEMA)["auto_renew"]["levels"] == {"true": 100, "false": 100}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from([-2.5, -0.0, 0.0, 1.0, 1.0, 3.0, 7.5, 1e9]) | st.floats(-1e6, 1e6),
        max_size=60,
    )
)
def test_decile_counts_are_the_binary_search_counts(values):
    """The profile's counts of values at or above each decile edge are bin_counts' own
    (a binary search per value, right-closed bins), ties and zeros of either sign too."""
    x = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)[1:-1])) if len(x) else np.array([])
    expected = statistics.bin_counts(edges, x, len(edges) + 1)
    assert decile_counts(edges, x).tolist() == expected.tolist()
