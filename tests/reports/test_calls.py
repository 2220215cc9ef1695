"""This week's calls as tables: the order (risk, or value at risk), what changed since the
last list, and the model-change sentence's threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_assessment.core.columns import parse_schema
from risk_assessment.reports import calls, risk
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
    """New on the list, its previous place, and its band change; 'same place' when
    nothing changed (an empty cell read as missing)."""
    chosen = calls.call_list(listed([1, 4, 2, 3]), 2)
    words = [calls.call_change(r) for r in chosen.to_dict(orient="records")]
    assert words == ["same place", "new on the list, was #4, moved up"]


def value_list(probability: list[float], value: list[float]) -> pd.DataFrame:
    """A risk list of clients a, b, c, d as risk.risk_table writes it with a value column:
    ranked by probability, with values at risk."""
    table = listed().assign(exit_probability=probability, contract_value=value)
    table["value_at_risk"] = (table["exit_probability"] * table["contract_value"]).round(2)
    table = table.sort_values("exit_probability", ascending=False).assign(contribution_x=0.0)
    return table.assign(rank=range(1, 5)).drop(columns="previous_rank").reset_index(drop=True)


def test_since_the_last_list_follows_the_calls_order_by_value(tmp_path):
    """Ordered by value at risk, c was call #1 of the last list though its risk rank was
    3 (and is 4 now): it was on the last list and is call #1 again. Four calls: d (risk
    rank 4 then) was #4 and is call #3; a (risk rank 1 then and now) was #3."""
    before = value_list([0.9, 0.8, 0.5, 0.2], [10.0, 100.0, 1000.0, np.nan])  # c, b, a, d
    now = value_list([0.9, 0.85, 0.3, 0.7], [10.0, 100.0, 1000.0, 20.0])  # c, b, d, a
    for name, table in ((risk.RISK_PREVIOUS, before), (risk.RISK_CSV, now)):
        (tmp_path / name).write_text(risk.people_csv(table), encoding="utf-8")
    now_listed, _ = risk.with_changes(now, tmp_path)
    chosen = calls.call_list(now_listed, 2, "contract_value")
    assert chosen[ID_COLUMN].tolist() == ["c", "b"] and chosen["rank"].tolist() == [4, 2]
    assert chosen["on_last_list"].tolist() == [True, True]
    assert [calls.call_change(r) for r in chosen.to_dict(orient="records")] == ["same place"] * 2
    schema = {"id": ID_COLUMN, "target": "exited", "features": {"x": {"type": "number"}}}
    records = calls.call_records(chosen, 2, parse_schema(schema))
    assert [r["previous_rank"] for r in records] == [1, 2]
    four = calls.call_list(now_listed, 4, "contract_value").to_dict(orient="records")
    assert [calls.call_change(r) for r in four] == ["same place"] * 2 + ["was #4", "was #3"]


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
