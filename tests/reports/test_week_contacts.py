"""The dashboard and the PDF say how many of the last list's calls were contacted, and
how those contacts went (reports/week.py over the store's contacts)."""

from __future__ import annotations

import pandas as pd

from risk_assessment.reports.week import last_list_contacts
from risk_assessment.store import accounts as rows


def settings(folder) -> dict:
    """The config keys last_list_contacts reads."""
    return {"output_folder_path": folder, "risk": {"calls_per_week": 3, "recontact_days": 14}}


def test_the_last_lists_contacts_in_one_sentence(tmp_path):
    """Of the 3 clients that were on the last list's first 3 calls, 2 were spoken to (their
    latest outcomes counted) and one tried without an answer; a client ranked 4th then,
    or contacted while not listed, does not count."""
    listed = pd.DataFrame(
        {"corporation": ["a", "b", "c", "d", "e"], "previous_rank": [1, 2, 3, 4, None]}
    )
    for client, outcome in [("a", "no answer"), ("a", "reached"), ("b", "leaving"),
                            ("c", "no answer"), ("d", "reached"), ("e", "at risk")]:  # fmt: skip
        rows.add_contact(tmp_path, client, "max", outcome, "")
    text = last_list_contacts(settings(tmp_path), listed)
    assert text == (
        "Of the 3 clients on the last list, 2 were contacted in the last 14 days "
        "(reached 1, leaving 1); 1 more were tried without an answer."
    )


def test_no_sentence_without_a_previous_list_or_contacts(tmp_path):
    """A first list, or a list nobody called yet: nothing to say."""
    first = pd.DataFrame({"corporation": ["a"], "previous_rank": [None]})
    assert last_list_contacts(settings(tmp_path), first) == ""
    listed = pd.DataFrame({"corporation": ["a"], "previous_rank": [1]})
    assert last_list_contacts(settings(tmp_path), listed) == ""
