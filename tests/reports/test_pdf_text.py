"""The PDF shows the user's own words literally: levels, labels, column, file and client
names holding `<`, `&`, `>`, quotes or a line break reach reportlab escaped exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, Table

from risk_assessment.reports import pdf, reporting
from risk_assessment.reports import text as report_text
from risk_assessment.reports.pdf_blocks import cell, fonts, paragraph, styles, table
from risk_assessment.reports.pdf_science import effects_rows
from risk_assessment.reports.text import markup
from tests.conftest import deploy_workspace, write_config, write_csv

SECTORS = ["Retail <i>", "AT&T Media", "<unknown>", "plain"]
AWKWARD = {
    "id": "account",
    "target": "churned",
    "value": "worth & <co>",
    "features": {
        "sector": {"type": "category", "levels": SECTORS},
        "tier": {"type": "category", "levels": ["gold", "silver"], "label": "R&D tier"},
        "usage": {"type": "number", "min": 0, "label": "<b>tier</b>"},
        "seats": {"type": "integer", "min": 0, "label": 'seats "paid" & <i>'},
    },
}
HEADER = "account,sector,tier,usage,seats,churned,worth & <co>"
LONG_ID = "C&lt; <b> a client id longer than thirty characters"


def awkward_rows(n: int, start: int, labelled: bool = True) -> list[tuple]:
    """n learnable rows: the first three sectors and low usage churn."""
    rows = []
    for i in range(start, start + n):
        churn = i % 3 == 0
        sector = SECTORS[i // 3 % 3] if churn else SECTORS[3 - (i % 5 == 0) * (1 + i % 3)]
        usage = 5 + i % 9 if churn else 60 + i % 30
        label = (int(churn) if labelled else "") if i % 11 else int(not churn)
        ident = LONG_ID if i == 201 else f"C&<{i:04d}>"
        rows.append((ident, sector, ["gold", "silver"][i % 2], usage, 3 + i % 7, label, 100 + i))
    return rows


@pytest.fixture
def awkward(tmp_path: Path) -> dict:
    """An installation whose schema's levels, labels and value column, whose client ids
    and input file name hold markup characters; a model deployed."""
    write_csv(tmp_path / "in" / "R&D <b>.csv", awkward_rows(90, 0), HEADER)
    write_csv(tmp_path / "in" / "current.csv", awkward_rows(30, 200, labelled=False), HEADER)
    write_csv(tmp_path / "testdata" / "testdata.csv", awkward_rows(45, 500), HEADER)
    config = write_config(tmp_path, schema=AWKWARD, risk={"calls_per_week": 12})
    deploy_workspace(config)
    return config


def pdf_text(path: Path) -> str:
    """All text of a PDF, whitespace folded."""
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(path).pages)


def test_the_report_shows_markup_characters_literally(awkward):
    """Reporting succeeds; levels, labels, the value column, ids and the file name read as
    written (a line break as a space), none turned into markup or an entity."""
    text = pdf_text(reporting.run_reporting(awkward)["report"])
    for literal in (
        "sector is AT&T Media",
        "sector is <unknown>",
        "sector: AT&T Media",
        "sector: Retail <i>",
        "R&D tier",
        "<b>tier</b>",
        'seats "paid" & <i>',
        "worth & <co>",
        "C&<0204>",
        "C&lt; <b>",  # the start of LONG_ID, which wraps in its cell
        "R&D <b>.csv",
    ):
        assert literal in text, literal
    assert "AT&T; Media" not in text and "R&D; tier" not in text and "&amp;" not in text
    assert "usage" not in text  # every feature in its label, the training data's too


def test_markup_escapes_once_and_keeps_one_line():
    """& < > escaped, a line break a space; text already marked up is not escaped again."""
    once = markup('a & <b>\n"c"')
    assert once == 'a &amp; &lt;b&gt; "c"'
    assert markup(once) == once
    assert paragraph("x < y & z", styles()["Normal"]).getPlainText() == "x < y & z"
    assert cell("two\nlines", styles()["cell"]) == "two lines"


def test_features_read_in_the_schemas_words_and_counts_with_separators():
    """The drift line, the drift table and the training-data table name each feature by
    its label, as the rest of the report does; counts carry thousands separators."""
    words = {"util": "utilisation %", "region": "région"}.get
    run = {"data_drift_psi": {"util": 0.3, "region": 0.01}, "new_rows": 2262,
           "started_at": "2026-11-26T10:00:00+00:00", "id": 4, "batch_f1": 0.8,
           "batch_f1_low": 0.7, "batch_f1_high": 0.9, "deployed_version": "v0001",
           "deployed_f1": 0.8, "decision": "no drift"}  # fmt: skip
    facts = {"judged": [run], "model_meta": {}, "words": words}
    line = report_text.drift_text(facts)
    assert "(2,262 new clients" in line and "utilisation % 0.30" in line and "région" in line
    assert "util " not in line
    flow = pdf.drift_section(facts, styles())[0]._content  # in a KeepTogether
    table = next(f for f in flow if isinstance(f, Table))
    assert [row[0] for row in table._cellvalues[1:]] == ["utilisation %", "région"]
    summary = {"util": {"mean": 1.0, "median": 1.0, "std": 0.5}}
    rows = pdf.data_rows({"summary": summary, "missing": {"util": 0.0}, "words": words})
    assert rows[1][0] == "utilisation %"
    assert pdf.batch_rows([run])[1][2] == "2,262"


def test_a_long_feature_level_wraps_within_its_column():
    """A 'feature: level' longer than its column of the coefficient table, or a header
    wider than its column, wraps instead of running into the next column."""
    effect = {"per_sd": 0.066, "odds_ratio": 1.07, "direction": "higher"}
    science = {"effects": [{"words": "région: Auvergne-Rhône-Alpes", **effect}]}
    widths = [4 * cm, 3 * cm, 2.2 * cm, 7.8 * cm]
    name = table(effects_rows(science), widths, styles())._cellvalues[1][0]
    assert isinstance(name, Paragraph), name  # a string is drawn on one line, however long
    room = widths[0] - 12  # the cell's padding: 6 points each side
    name.wrap(room, 1000)
    assert len(name.blPara.lines) > 1 and max(name.getActualLineWidths0()) <= room
    head = table([["exit risk", "band"], ["90%", "high"]], [1.3 * cm, 1.2 * cm])._cellvalues
    assert isinstance(head[0][0], Paragraph) and head[0][0].style.fontName == fonts()[1]
    head[0][0].wrap(1.3 * cm - 12, 1000)
    assert max(head[0][0].getActualLineWidths0()) <= 1.3 * cm - 12
