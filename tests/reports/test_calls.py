"""This week's calls as tables: the order (risk, or value at risk), what changed since the
last list, and the model-change sentence's threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_assessment.core.columns import parse_schema
from risk_assessment.reports import calls
from tests.conftest import ID_COLUMN  # the default schema's id


def listed(previous: list[float] | None = None) -> pd.DataFrame:
    """Four clients ranked by probability, with a value column and previous ranks."""
    table = pd.DataFrame(
        {
            ID_COLUMN: ["a", "b", "c", "d"],
            "exit_probability": [0.9, 0.8, 0.5, 0.2],
            "rank": [1, 2, 3, 4],
            "risk_band": ["high", "high", "high", "low"],
            "top_reasons": ["", "", "", ""],
            "change": ["", "up", "", ""],
            "contract_value": [10.0, 100.0, 1000.0, 5.0],
        }
    )
    table["previous_rank"] = np.nan if previous is None else previous
    return table


def test_calls_follow_the_risk_list_without_a_value_column():
    """Two calls a week: the two highest probabilities, numbered 1 and 2."""
    chosen = calls.call_list(listed(), 2)
    assert chosen[ID_COLUMN].tolist() == ["a", "b"] and chosen["call"].tolist() == [1, 2]
    assert chosen["on_last_list"].isna().all()


def test_calls_order_by_value_at_risk_when_the_schema_has_a_value_column():
    """With a value column the calls go by probability x value: c (500), b (80), a (9)."""
    schema = parse_schema(
        {
            "id": ID_COLUMN,
            "target": "exited",
            "value": "contract_value",
            "features": {"x": {"type": "number"}},
        }
    )
    value = calls.value_column(listed(), schema)
    assert value == "contract_value"
    chosen = calls.call_list(listed(), 3, value)
    assert chosen[ID_COLUMN].tolist() == ["c", "b", "a"]
    assert chosen["value_at_risk"].tolist() == [500.0, 80.0, 9.0]
    assert calls.value_column(listed().drop(columns="contract_value"), schema) is None


def test_change_since_the_last_list_in_words():
    """New on the list, its previous place, and its band change."""
    chosen = calls.call_list(listed([1, 4, 2, 3]), 2)
    words = [calls.call_change(r) for r in chosen.to_dict(orient="records")]
    assert words == ["", "new on the list, was #4, moved up"]


def test_the_model_change_sentence_needs_many_moves():
    """No sentence under 5% of the list moved, one sentence above it."""
    move = {"version": "v2", "previous": "v1", "deployed_at": "2026-12-06T03:00:00+00:00",
            "moved": 4, "total": 100, "why": "it predicts better"}  # fmt: skip
    assert calls.model_change_sentence(move) == ""
    sentence = calls.model_change_sentence({**move, "moved": 40})
    assert sentence == (
        "The model changed on 2026-12-06: v2 replaced v1 because it predicts better, and the "
        "new model alone moved 40 of the 100 current clients to another risk band."
    )


def test_moves_due_to_the_model_compare_the_same_clients():
    """A client the old list puts in another band counts; one absent from it does not."""
    old = pd.DataFrame({ID_COLUMN: ["a", "b", "c"], "risk_band": ["low", "high", "high"]})
    assert calls.moved_by_model(listed(), old) == 1
