"""Did the calls help? The matched comparison on generated data with a known effect."""

from __future__ import annotations

import numpy as np
import pytest

from risk_assessment.reports.outcomes import CAVEAT, calls_effect, calls_sentences


def generated(n: int, lowered_by: float, seed: int) -> tuple[np.ndarray, ...]:
    """Clients whose risky ones are called more often (the call chance is their exit
    probability), and a call lowers the exit probability by lowered_by."""
    rng = np.random.default_rng(seed)
    prob = rng.uniform(0.15, 0.9, n)
    contacted = rng.random(n) < prob
    exited = (rng.random(n) < prob - lowered_by * contacted).astype(int)
    return prob, contacted, exited


@pytest.mark.parametrize("lowered_by, seed", [(0.15, 1), (0.05, 2), (0.0, 3)])
def test_the_estimate_recovers_the_set_effect_within_its_interval(lowered_by, seed):
    """The interval holds -lowered_by, and is narrow enough to tell 0.15 from 0."""
    found = calls_effect(*generated(20_000, lowered_by, seed))
    assert found["low"] <= -lowered_by <= found["high"], found
    assert found["high"] - found["low"] < 0.06
    assert found["caveat"] == CAVEAT and found["strata"] == 10


def test_matching_matters_the_naive_difference_is_misleading():
    """Calls lower exits by 0.1, but called clients are riskier: the unmatched difference
    says the calls go with more exits; the matched one finds the drop."""
    found = calls_effect(*generated(20_000, 0.1, 4))
    assert found["naive"] > 0 and found["high"] < 0


def test_without_both_kinds_of_client_there_is_no_estimate():
    """All contacted, or none: no effect, and the reason."""
    prob = np.linspace(0.1, 0.9, 50)
    assert calls_effect(prob, np.ones(50, bool), np.zeros(50))["effect"] is None
    assert calls_effect(prob, np.zeros(50, bool), np.zeros(50))["effect"] is None


def test_a_stratum_without_uncontacted_clients_is_left_out_and_counted():
    """Only contacted clients above 0.8: that stratum cannot be matched."""
    prob = np.r_[np.linspace(0.1, 0.5, 200), np.linspace(0.81, 0.99, 20)]
    contacted = np.r_[np.arange(200) % 2 == 0, np.ones(20, bool)]
    found = calls_effect(prob, contacted, np.zeros(220), strata=10)
    assert found["strata_left_out"] >= 1 and found["effect"] == 0.0


def test_the_sentences_say_the_result_or_why_not_and_always_the_caveat():
    """A drop in words with its interval; no estimate: the reason; the caveat in both."""
    found = calls_effect(*generated(20_000, 0.15, 5))
    result, caveat = calls_sentences(found)
    assert result.startswith("Contacted clients exited") and "points less often" in result
    assert "interval" in result and caveat == CAVEAT
    assert calls_sentences({"effect": None, "reason": "no label yet"}) == [
        "Not yet: no label yet.",
        CAVEAT,
    ]


def test_the_pdf_appendix_has_the_comparison(reportable):
    """reporting writes "Did the calls help?" with the numbers from the store."""
    from pypdf import PdfReader

    from risk_assessment.reports import reporting
    from tests.server.test_admin import list_then_label

    list_then_label(reportable["output_folder_path"])
    written = reporting.run_reporting(reportable)
    text = "\n".join(p.extract_text() for p in PdfReader(written["report"]).pages)
    assert "Did the calls help?" in text and "100 contacted" in text
    assert "not assigned at random" in text
