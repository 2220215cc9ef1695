"""The model's input step built from the schema (modelling/features.py)."""

from __future__ import annotations

import pandas as pd

from risk_assessment.core.columns import parse_schema
from risk_assessment.modelling.features import MISSING_LEVEL, column_transformer


def schema(plan_required: bool):
    return parse_schema({
        "id": "acct", "target": "churn",
        "features": {
            "seats": {"type": "integer", "min": 0},
            "plan": {"type": "category", "required": plan_required},
            "region": {"type": "category"},
        },
    })  # fmt: skip


def categories_step(plan_required: bool):
    """The fitted one-hot step of the categories."""
    data = pd.DataFrame({
        "seats": [1, 5, 9, 3],
        "plan": ["pro", None if not plan_required else "pro", "basic", "pro"],
        "region": ["north", "south", "north", "east"],
    })  # fmt: skip
    columns = column_transformer(schema(plan_required), "log", True).fit(data)
    return columns, columns.named_transformers_["categories"]


def test_categories_take_the_missing_level_only_when_a_value_may_be_missing():
    """Categories go through level codes to the one-hot step; only where a value may be
    missing do the codes give it the `missing` level (a required one has none)."""
    _, required = categories_step(True)
    assert list(required.named_steps) == ["codes", "onehot"]
    assert required.named_steps["codes"].fill_value is None
    columns, optional = categories_step(False)
    assert optional.named_steps["codes"].fill_value == MISSING_LEVEL
    assert MISSING_LEVEL in optional.named_steps["codes"].levels_[0]
    probe = pd.DataFrame({"seats": [2], "plan": [None], "region": ["west"]})
    assert columns.transform(probe).shape == (1, 1 + 3 + 3)
