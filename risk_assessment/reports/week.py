"""What the dashboard and the PDF's first page lead with, computed once for both: this
week's calls, the model-change sentence, the expected exits, the decision in words and the
numbers (with the rows not trained on, in words).

Reads the previous deployed version (to tell the moves due to the model from those due
to the clients); writes nothing. Used by reporting.py and the server's dashboard.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from risk_assessment.core.common import RiskError

import pandas as pd

from risk_assessment.access import worklist
from risk_assessment.core.columns import check_model_schema
from risk_assessment.deployment.versions import load_deployed_version, read_model_meta
from risk_assessment.reports import calls, effects, model_health, numbers, plain, risk
from risk_assessment.store import accounts, lookups


def previous_list(
    config: dict[str, Any], manifest: dict[str, Any], data: pd.DataFrame
) -> tuple[str, pd.DataFrame] | None:
    """(version, its risk list of today's clients) of the version before the live one;
    None for the first version, a damaged one or one of other columns than the schema's
    (today's rows may lack its columns: a feature renamed or removed)."""
    versions = model_health.version_history(config["prod_deployment_path"])
    before = model_health.previous_version(versions, manifest["version"])
    if before is None:
        return None
    try:
        check_model_schema(read_model_meta(before["folder"]), config["schema"], before["version"])
        model, _ = load_deployed_version(before["folder"], config["deployment"]["signing_key_path"])
    except RiskError:
        return None
    old = risk.served_risk_table(
        model, {"folder": before["folder"]}, data, config["risk"], config["schema"]
    )
    return before["version"], old


def model_move(
    config: dict[str, Any],
    listed: pd.DataFrame,
    manifest: dict[str, Any],
    data: pd.DataFrame,
    runs: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """How many current clients the live model puts in another band than its predecessor
    would (same clients, same data), and why it was deployed; None without predecessor."""
    previous = previous_list(config, manifest, data)
    if previous is None:
        return None
    return {
        "version": manifest["version"],
        "previous": previous[0],
        "deployed_at": manifest["deployed_at"] or "",
        "moved": calls.moved_by_model(listed, previous[1]),
        "total": len(listed),
        "why": plain.why_deployed(plain.deploying_run(runs, manifest["version"])),
    }


def open_to_call(config: dict[str, Any], listed: pd.DataFrame) -> pd.DataFrame:
    """The list without the clients contacted within risk.recontact_days, each with the
    owner of its call (access/worklist.py's rule on the store's contacts)."""
    latest = accounts.latest_contacts(config["output_folder_path"])
    if not latest:
        return listed.assign(owner=None)
    ids = listed[listed.columns[0]].astype(str)
    still = worklist.open_calls(ids, latest, float(config["risk"]["recontact_days"]))
    owners = {c["corporation"]: c["owner"] for c in still}
    kept = listed[ids.isin(owners)]
    return kept.assign(owner=kept[kept.columns[0]].astype(str).map(owners))


def last_list_contacts(config: dict[str, Any], listed: pd.DataFrame) -> str:
    """How many of the last list's calls were contacted within risk.recontact_days, and
    their latest outcomes, in one sentence ('' without a previous list or a contact)."""
    per_week = config["risk"]["calls_per_week"]
    if "previous_rank" not in listed:
        return ""
    ids = listed.loc[listed["previous_rank"] <= per_week, listed.columns[0]].astype(str)
    days = float(config["risk"]["recontact_days"])
    since = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    found = worklist.contacted_summary(
        ids, accounts.contacts_between(config["output_folder_path"]), since
    )
    if not found["listed"] or not (found["contacted"] or found["attempted"]):
        return ""
    outcomes = ", ".join(f"{k} {v}" for k, v in found["outcomes"].items() if v and k != "no answer")
    said = f" ({outcomes})" if outcomes else ""
    tried = (
        f"; {found['attempted']} more were tried without an answer" if found["attempted"] else ""
    )
    return (
        f"Of the {found['listed']} clients on the last list, {found['contacted']} were "
        f"contacted in the last {days:g} days{said}{tried}."
    )


def ordered_by(config: dict[str, Any], value: str | None) -> str:
    """How the calls are ordered, in words: by value at risk (the value column's words)
    when the schema declares one, else by exit probability."""
    return f"value at risk ({config['schema'].words(value)})" if value else "exit probability"


def week_facts(
    config: dict[str, Any],
    listed: pd.DataFrame,
    manifest: dict[str, Any],
    data: pd.DataFrame,
    runs: list[dict[str, Any]],
) -> dict[str, Any]:
    """This week's calls (a table), how they are ordered, the model-change sentence, the
    expected exits among current clients and among the calls, and the decision in words.

    listed: the risk list with its changes (risk.with_changes); data: every observation.
    """
    per_week = config["risk"]["calls_per_week"]
    value = calls.value_column(listed, config.get("schema"))
    chosen = calls.call_list(open_to_call(config, listed), per_week, value)
    move = model_move(config, listed, manifest, data, runs)
    meta = read_model_meta(manifest["folder"])
    exits = plain.expected_exits(listed["exit_probability"].to_numpy())
    calls_exits = plain.expected_exits(chosen["exit_probability"].to_numpy())
    held = lookups.not_trained(config["output_folder_path"], config["schema"])
    return {
        "calls": chosen,
        "records": calls.call_records(chosen, config["risk"]["top_reasons"], config["schema"]),
        "per_week": per_week,
        "ordered_by": ordered_by(config, value),
        "move": move,
        "model_change": calls.model_change_sentence(move),
        "exits": exits,
        "exits_words": plain.exits_words(exits, calls_exits),
        "contacts_words": last_list_contacts(config, listed),
        "decision": plain.decision_words(manifest, runs),
        "numbers": numbers.counts(
            config, meta, plain.deploying_run(runs, manifest["version"]), len(listed), held["rows"]
        ),
        "not_trained_words": plain.not_trained_words(held),
        "label_free": effects.label_free_estimate(
            listed["exit_probability"].to_numpy(), float(meta.get("threshold") or 0.5)
        ),
    }


def version_lists(
    config: dict[str, Any], data: pd.DataFrame, last: int = 3
) -> list[tuple[str, pd.DataFrame]]:
    """(version, its risk list of today's clients) for the last deployed versions, newest
    first; a damaged version, or one of other columns than the schema's, is left out."""
    key_file = config["deployment"]["signing_key_path"]
    out = []
    for v in reversed(model_health.version_history(config["prod_deployment_path"])[-last:]):
        try:
            check_model_schema(read_model_meta(v["folder"]), config["schema"], v["version"])
            model, _ = load_deployed_version(v["folder"], key_file)
        except RiskError:
            continue
        table = risk.served_risk_table(
            model, {"folder": v["folder"]}, data, config["risk"], config["schema"]
        )
        out.append((v["version"], table))
    return out
