"""The worklist's rules: which contact outcomes there are, what a valid contact is, and
which of the call list's clients are still to call and by whom.

A client contacted within risk.recontact_days is left off the call list, so tomorrow's
list does not send a colleague to the same client. "no answer" is an attempt, not a
contact: the client stays on the list, and the call stays with whoever tried (its owner).
A client whose last contact is older than the window is back on the list, owned by the
manager who spoke to it last; a client never contacted has no owner yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

OUTCOMES = ("reached", "no answer", "will stay", "at risk", "leaving")
ATTEMPT = "no answer"  # an outcome that leaves the call open
MAX_NOTE = 2000  # characters


def contact_problem(body: Any) -> str | None:
    """What is wrong with a contact's JSON body or form (None: it is valid)."""
    if not isinstance(body, dict):
        return "request body: must be a JSON object with outcome and note"
    unknown = sorted(set(body) - {"outcome", "note"})
    if unknown:
        return f"request body: unexpected key(s) {', '.join(unknown)[:200]}"
    if body.get("outcome") not in OUTCOMES:
        shown = str(body.get("outcome"))[:40]
        return f"outcome {shown!r}: must be one of {', '.join(OUTCOMES)}"
    note = body.get("note", "")
    if not isinstance(note, str):
        return "note: must be a string"
    if len(note) > MAX_NOTE:
        return f"note: {len(note)} characters; at most {MAX_NOTE}"
    return None


def is_recent(at: str, days: float, now: datetime) -> bool:
    """True when the ISO time `at` lies within days before now."""
    return datetime.fromisoformat(at) > now - timedelta(days=days)


def open_calls(
    ids: Iterable[str],
    latest: dict[str, dict[str, Any]],
    recontact_days: float,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The call list's clients still to call, in the given order, with each call's owner.

    Args:
        ids: the call list's client ids, highest risk first.
        latest: each contacted client's latest contact (store.accounts.latest_contacts).
        recontact_days: a client contacted more recently than this is left out.
    Returns:
        one {"corporation", "owner", "last_contact", "last_outcome"} per open call
        (owner None: nobody has it yet).
    """
    now = now or datetime.now(UTC)
    calls = []
    for client in ids:
        last = latest.get(client)
        if last and last["outcome"] != ATTEMPT and is_recent(last["at"], recontact_days, now):
            continue
        calls.append(
            {
                "corporation": client,
                "owner": last["actor"] if last else None,
                "last_contact": last["at"] if last else None,
                "last_outcome": last["outcome"] if last else None,
            }
        )
    return calls


def owned_by(calls: list[dict[str, Any]], owner: str) -> list[dict[str, Any]]:
    """A manager's own list: the open calls they own, and those nobody owns yet."""
    return [c for c in calls if c["owner"] in (owner, None)]


def contacted_summary(
    ids: Iterable[str], contacts: dict[str, list[tuple[str, str]]], since: str
) -> dict[str, Any]:
    """How many of a period's listed clients were contacted since `since`, and the
    outcomes of their latest contact (for the dashboard and the PDF).

    Args:
        ids: the clients listed for the period.
        contacts: each client's (time, outcome) contacts, oldest first
            (store.accounts.contacts_between).
        since: the period's start (ISO time).
    Returns:
        {"listed", "contacted", "attempted" (only "no answer" so far), "outcomes":
        {outcome: clients}} where outcomes count each client's latest contact.
    """
    listed = list(dict.fromkeys(ids))
    outcomes = dict.fromkeys(OUTCOMES, 0)
    contacted = attempted = 0
    for client in listed:
        recent = [outcome for at, outcome in contacts.get(client, []) if at >= since]
        if not recent:
            continue
        spoken = [o for o in recent if o != ATTEMPT]
        contacted += bool(spoken)
        attempted += not spoken
        outcomes[recent[-1]] += 1
    return {"listed": len(listed), "contacted": contacted, "attempted": attempted,
            "outcomes": outcomes}  # fmt: skip
