"""The PDF's pages for the data scientist: what the model learnt (standardised effects
with their direction), the reliability plot on the latest labelled data, and the
label-free estimate on the current clients. facts["science"]: reports/scientist.py."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.units import cm
from reportlab.platypus import Image, KeepTogether

from risk_assessment.reports.pdf_blocks import paragraph, section, table
from risk_assessment.reports.plain import rejected_words


def effects_rows(science: dict[str, Any]) -> list[list[str]]:
    """The effects table, header first."""
    return [["feature", "log-odds per SD", "odds ratio", "direction"]] + [
        [e["words"], f"{e['per_sd']:+.3f}", f"{e['odds_ratio']:.2f}", e["direction"]]
        for e in science["effects"]
    ]


def label_free_text(science: dict[str, Any]) -> str:
    """The label-free estimate in one sentence, or the one reason it is not computed."""
    lf = science["label_free"]
    if not lf["clients"] or lf.get("f1") is None:
        return f"Label-free estimate: not computed ({lf.get('reason', 'no client is at risk')})."
    return (
        f"Label-free estimate: on the {lf['clients']:,} current clients (outcome unknown) the "
        f"model flags {lf['flagged']:,} at its cut-off {science['cut']:.3f}; if its "
        f"probabilities hold, expect F1 about {lf['f1']:.3f}."
    )


def science_section(facts: dict[str, Any], st) -> list:
    """Effects, reliability plot and the label-free estimate."""
    science = facts["science"]
    plot = [Image(io.BytesIO(science["reliability_png"]), width=8 * cm, height=7 * cm)]
    effects = section(
        "What the model learnt (standardised coefficients, largest first)",
        st,
        table(effects_rows(science), [4 * cm, 3 * cm, 2.2 * cm, 7.8 * cm], st),
        keep=False,
    )
    return [
        # the part's title on the page of its first table (keepWithNext left it alone at
        # the foot of a page when that table moved on)
        KeepTogether([paragraph("For the data scientist", st["Heading1"]), *effects]),
        *section(
            f"Reliability on {science['reliability_on']}",
            st,
            *(plot if science["reliability"] else [paragraph("No labelled data.", st["Normal"])]),
            paragraph(
                "Observed exit rate against the predicted probability per tenth of the scale; "
                "on the diagonal the probabilities hold.",
                st["Normal"],
            ),
        ),
        *section("Label-free estimate", st, paragraph(label_free_text(science), st["Normal"])),
    ]


def rejected_section(facts: dict[str, Any], st) -> list:
    """Per batch with rejected data: the files rejected whole and the rows dropped, with
    their top reasons (those clients are missing from the list until fixed)."""
    rows = [["batch", "run", "what was rejected"]] + [
        [b["batch"], runs_of(facts).get(b["batch"], "–"), rejected_words(b)]
        for b in facts["rejected"]
    ]
    note = "None: every file and row of every batch was valid."
    content = [table(rows, [1.4 * cm, 1.4 * cm, 14.2 * cm], st)] if len(rows) > 1 else []
    return section(
        "Rejected data",
        st,
        *(content or [paragraph(note, st["Normal"])]),
        keep=False,
    )


def runs_of(facts: dict[str, Any]) -> dict[int, Any]:
    """batch id -> the id of the run that handled it."""
    return {r["batch_id"]: r["id"] for r in facts["runs"] if r.get("batch_id") is not None}
