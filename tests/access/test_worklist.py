"""The worklist's rule: who is left off the call list, who owns each open call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from risk_assessment.access import worklist

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def contact(days_ago: float, outcome: str = "reached", actor: str = "ann") -> dict:
    """A latest-contact row made days_ago before NOW."""
    at = (NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")
    return {"at": at, "outcome": outcome, "actor": actor}


def test_recently_contacted_clients_leave_the_list_and_others_keep_their_order():
    """Contacted 3 days ago (window 14): off; 20 days ago: back, owned by who called."""
    latest = {"b": contact(3), "c": contact(20, actor="bob")}
    calls = worklist.open_calls(["a", "b", "c", "d"], latest, 14, NOW)
    assert [c["corporation"] for c in calls] == ["a", "c", "d"]
    assert [c["owner"] for c in calls] == [None, "bob", None]
    assert calls[1]["last_outcome"] == "reached"


def test_no_answer_keeps_the_call_open_with_its_owner():
    """An unanswered attempt is not a contact: the client stays, the caller owns it."""
    calls = worklist.open_calls(["a"], {"a": contact(1, "no answer", "cy")}, 14, NOW)
    assert calls == [
        {
            "corporation": "a",
            "owner": "cy",
            "last_contact": contact(1)["at"],
            "last_outcome": "no answer",
        }
    ]


def test_the_window_is_a_setting():
    """recontact_days 0 leaves nobody out; 30 leaves out a contact of 20 days ago."""
    latest = {"a": contact(20)}
    assert len(worklist.open_calls(["a"], latest, 0, NOW)) == 1
    assert worklist.open_calls(["a"], latest, 30, NOW) == []


def test_a_managers_own_list_holds_their_calls_and_unowned_ones():
    """owned_by keeps the owner's open calls and those nobody owns."""
    latest = {"a": contact(1, "no answer", "ann"), "b": contact(1, "no answer", "bob")}
    calls = worklist.open_calls(["a", "b", "c"], latest, 14, NOW)
    assert [c["corporation"] for c in worklist.owned_by(calls, "ann")] == ["a", "c"]


@pytest.mark.parametrize(
    "body, word",
    [
        ({"outcome": "maybe"}, "outcome"),
        ({"outcome": "reached", "note": "x" * 2001}, "2001 characters"),
        ({"outcome": "reached", "note": 5}, "string"),
        ({"outcome": "reached", "who": "me"}, "unexpected"),
        (["reached"], "JSON object"),
    ],
)
def test_a_bad_contact_is_named(body, word):
    """Each wrong contact gets a message naming the field."""
    assert word in worklist.contact_problem(body)


def test_a_good_contact_passes():
    """Every listed outcome, with or without a note of up to 2,000 characters."""
    for outcome in worklist.OUTCOMES:
        assert worklist.contact_problem({"outcome": outcome, "note": "x" * 2000}) is None
    assert worklist.contact_problem({"outcome": "leaving"}) is None


def test_the_periods_summary_counts_contacted_attempted_and_latest_outcomes():
    """Of 4 listed clients: a reached, b only tried, c contacted before the period, d not."""
    since = contact(7)["at"]
    contacts = {
        "a": [(contact(3)["at"], "no answer"), (contact(2)["at"], "will stay")],
        "b": [(contact(1)["at"], "no answer")],
        "c": [(contact(9)["at"], "leaving")],
    }
    found = worklist.contacted_summary(["a", "b", "c", "d", "a"], contacts, since)
    assert (found["listed"], found["contacted"], found["attempted"]) == (4, 1, 1)
    assert found["outcomes"]["will stay"] == 1 and found["outcomes"]["no answer"] == 1
    assert found["outcomes"]["leaving"] == 0
