"""The report's sentences: which model serves and why, the risk list and the data drift
in plain words, and times and counts as people read them; and markup(), the one way text
becomes a reportlab Paragraph's markup (pdf_blocks.paragraph).

A part of reporting.py (used by pdf.py): facts in, text out; reads or writes nothing.
The sentences are plain text (the dashboard shows some of them too), but list_text(),
which is markup (bold) with the user's words escaped in it.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from risk_assessment.reports.diagnostics import psi_band


class Markup(str):
    """Paragraph markup whose text is escaped already: markup() leaves it as it is."""


def one_line(text: Any) -> str:
    """Text on one line: each line break a space."""
    return " ".join(str(text).splitlines())


def markup(text: Any) -> Markup:
    """Any text as reportlab Paragraph markup, shown as written: &, < and > escaped, line
    breaks as spaces; Markup (escaped already) as it is, so nothing is escaped twice."""
    return text if isinstance(text, Markup) else Markup(escape(one_line(text)))


def count(n: Any) -> str:
    """A count as people read it: 2262 -> '2,262' (anything else, '?' say, as it is)."""
    return f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) else str(n)


def decision_text(facts: dict[str, Any]) -> str:
    """Which model serves, since when, and why it was deployed, in plain words."""
    m = facts["manifest"]
    head = f"Model {m['version']} serves the risk list since {when(m['deployed_at'])}."
    run = next(
        (r for r in facts["runs"] if r.get("new_version") == m["version"]), None
    )  # the run that deployed it
    if run is None:
        return f"{head} It was deployed by hand (deployment.py), not by a monitoring run."
    if not run.get("deployed_version"):
        rows = ((facts.get("week") or {}).get("numbers") or {}).get("trained_on", 0)
        return f"{head} It is the first model deployed (trained on {rows:,} rows)."
    why = f"{head} It replaced {run['deployed_version']}" + retrain_text(run)
    gate = run.get("gate") or {}
    held = (gate.get("holdout") or {}).get("logloss")
    if held:
        why += (
            f". On {count(held['n'])} new rows held out from training it predicts better than"
            f" the old model (paired log-loss difference {held['effect']:+.3f}, significant on the"
            f" one-sided paired test at gate.alpha; trained on the"
            f" {gate.get('window', '?')} window)"
        )
    if run.get("new_f1") is not None and run.get("deployed_f1") is not None:
        why += (
            f". It scores F1 {run['new_f1']:.2f} on the test data against "
            f"{run['deployed_f1']:.2f} for the old model"
        )
    return why + "."


def retrain_text(run: dict[str, Any]) -> str:
    """Why the run retrained, in plain words with its numbers."""
    refit = (run.get("verdict") or {}).get("refit")
    f1 = ""
    if run.get("batch_f1") is not None:
        f1 = (
            f"; the old model's F1 on them was {run['batch_f1']:.2f}"
            f" ({run['batch_f1_low']:.2f} to {run['batch_f1_high']:.2f})"
        )
    if run.get("model_drift") and refit:
        return (
            f" after model drift: on {count(refit['n'])} labelled new rows a model refit on them"
            f" predicted them better (log-loss lower by {refit['effect']:.3f},"
            f" p {refit['p_value']:.2g}){f1}"
        )
    if run.get("model_drift"):
        return f" after model drift{f1}, below its {run.get('deployed_f1') or 0:.2f}"
    if run.get("data_drift"):
        return " after the new clients' data drifted"
    return ""


def list_text(facts: dict[str, Any]) -> Markup:
    """Clients per band and what changed since the previous list (markup: bold)."""
    lst = facts["list"]
    b, c = ({k: count(v) for k, v in d.items()} for d in (lst["bands"], lst["changes"]))
    text = (
        f"{count(lst['total'])} current clients: <b>{b['high']} high</b>, {b['medium']} "
        f"medium, {b['low']} low risk."
    )
    text += value_text(facts.get("risk"), facts.get("words"), facts.get("value"))
    if not lst["has_baseline"]:
        return Markup(text + " This is the first list: nothing to compare with yet.")
    return Markup(
        text + f" Since the previous list: {c['new_high']} new in high, {c['up']} moved up, "
        f"{c['down']} moved down, {c['left']} left the list."
    )


def value_text(table, words, value: str | None) -> str:
    """' Value at risk in the high band: 1,234,567 (...)' when the schema declares a value
    column (value) and the list carries it: markup, its words escaped."""
    if table is None or not value or "value_at_risk" not in getattr(table, "columns", ()):
        return ""
    high = table[table["risk_band"] == "high"]
    name = markup(words(value) if words else value)
    return (
        f" Value at risk in the high band: <b>{high['value_at_risk'].sum():,.0f}</b> "
        f"(exit probability times {name}, summed over its {len(high):,} clients)."
    )


def drift_text(facts: dict[str, Any]) -> str:
    """Data drift of the last judged batch in one line, features in their words
    (facts["words"], the schema's; their column names without it)."""
    run = next((r for r in facts["judged"] if isinstance(r.get("data_drift_psi"), dict)), None)
    if run is None:
        return "No batch of new clients has been judged for drift yet."
    name = facts.get("words") or str
    psi = run["data_drift_psi"]
    tested = (run.get("verdict") or {}).get("data") or {}
    head = f"Last judged batch ({count(run['new_rows'])} new clients, {when(run['started_at'])})"
    if tested:  # the test that decided, per feature; PSI beside it as a size only
        flagged = [f for f, v in tested.items() if v.get("drift")]
        detail = "; ".join(
            f"{name(f)} p {v['p_adjusted']:.2g} ({'drift' if v.get('drift') else 'no drift'})"
            for f, v in tested.items()
        )
        sizes = ", ".join(f"{name(f)} {v:.2f} ({psi_band(v)})" for f, v in psi.items())
        return (
            f"{head}: the binned chi-square test against the training deciles (Holm-adjusted "
            f"p) flagged {len(flagged)} of {len(tested)} features: {detail}. PSI, a size "
            f"only: {sizes}."
        )
    shifted = [f for f, v in psi.items() if psi_band(v) == "significant"]
    detail = ", ".join(f"{name(f)} {v:.2f}" for f, v in psi.items())
    return f"{head}: significant shift in {len(shifted)} of {len(psi)} features (PSI {detail})."


def when(iso: str | None) -> str:
    """'2026-11-26 14:05 UTC' from an ISO time."""
    return (iso or "n/a")[:16].replace("T", " ") + (" UTC" if iso else "")
