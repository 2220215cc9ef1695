"""The PDF report's first page, for people who decide: what was decided and why, this
week's calls, the model's quality as people count, the bands, the new data, in words.

No p-value, log-loss or test name here (they are in the appendix); one interval level
(95%). facts: reporting.report_facts(), with "week" from reports/week.py.
"""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import cm
from reportlab.platypus import PageBreak, Table

from risk_assessment.reports import calls, plain, risk
from risk_assessment.reports.pdf_blocks import paragraph, section, table
from risk_assessment.reports.text import count, list_text, when

SUMMARY_TOP = 6  # calls on page 1 (all of them follow the model health pages)


def why(row: dict[str, Any], most: int | None) -> str:
    """The reasons of one call: its own changes first, then against the average client;
    at most `most` of them (all with None)."""
    text = "; ".join(filter(None, [row.get("own_change"), row["top_reasons"]]))
    return "; ".join(text.split("; ")[:most]) or "nothing above average"


def calls_table(week: dict[str, Any], n: int | None, st) -> Table:  # st: pdf_blocks.styles()
    """The first n calls of the week (all with None) with their change and reasons."""
    chosen = week["calls"] if n is None else week["calls"].head(n)
    ident = chosen.columns[1]  # call, then the risk list's client id
    rows = [["call", "client", "exit risk", "band", "since the last list", "why"]] + [
        [
            r["call"],
            r[ident],
            risk.percent(r["exit_probability"]),
            r["risk_band"],
            paragraph(calls.call_change(r), st["cell"]),
            why(r, 2 if n else None),
        ]
        for r in chosen.to_dict(orient="records")
    ]
    # ids of ~12 characters; the band column fits "medium" in DejaVu Sans
    widths = [1.1 * cm, 2.3 * cm, 1.3 * cm, 1.7 * cm, 2.9 * cm, 7.7 * cm]
    return table(rows, widths, st)


def quality_table(facts: dict[str, Any], st) -> Table:
    """F1 of the serving model (and the previous one) on the test data, 95% interval."""
    rows = [["model", "", "F1 on the test data", "95% interval"]]
    for name, s in (("serving", facts["scores"]), ("previous", facts["previous"])):
        if s:
            version = facts["manifest"]["version"] if name == "serving" else s["version"]
            rows.append(
                [version, name, f"{s['f1']:.3f}", f"{s['f1_low']:.2f} to {s['f1_high']:.2f}"]
            )
    return table(rows, [2.2 * cm, 2 * cm, 4 * cm, 4 * cm], st)


def summary_page(facts: dict[str, Any], st) -> list:
    """Page 1: the decision in words, this week's calls, quality as people count, the bands,
    the new data."""
    week = facts["week"]
    s = facts["scores"]
    decided = week["model_change"] or week["decision"]
    shown = min(SUMMARY_TOP, len(week["calls"]))
    return [
        paragraph("Attrition risk: executive summary", st["Title"]),
        paragraph(
            f"{when(facts['date'])}, model {facts['manifest']['version']}, test data "
            f"{facts['test_data']} ({count(s['rows'])} clients)",
            st["Normal"],
        ),
        *section("What was decided", st, paragraph(decided, st["lead"])),
        *section(
            f"This week's calls: the first {count(shown)} of {count(len(week['calls']))}, "
            f"by {week['ordered_by']}",
            st,
            paragraph(week["exits_words"], st["lead"]),
            *([paragraph(week["contacts_words"], st["lead"])] if week["contacts_words"] else []),
            calls_table(week, SUMMARY_TOP, st),
        ),
        *section(
            "How good the model is",
            st,
            paragraph(plain.quality_words(s), st["lead"]),
            quality_table(facts, st),
        ),
        *section("Every current client by risk band", st, paragraph(list_text(facts), st["lead"])),
        *section(
            "New data",
            st,
            paragraph(plain.drift_words(facts["judged"], facts.get("words")), st["lead"]),
        ),
        PageBreak(),
    ]
