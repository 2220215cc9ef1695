"""The PDF shows the user's own words literally: levels, labels, column, file and client
names holding `<`, `&`, `>`, quotes or a line break reach reportlab escaped exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from risk_assessment.reports import reporting
from risk_assessment.reports.pdf_blocks import cell, markup, paragraph, styles
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
        "seats": {"type": "integer", "min": 0, "label": 'sea\nts "paid" & <i>'},
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
        'sea ts "paid" & <i>',
        "worth & <co>",
        "C&<0204>",
        "C&lt; <b>",  # the start of LONG_ID, which wraps in its cell
        "R&D <b>.csv",
    ):
        assert literal in text, literal
    assert "AT&T; Media" not in text and "R&D; tier" not in text and "&amp;" not in text


def test_markup_escapes_once_and_keeps_one_line():
    """& < > escaped, a line break a space; text already marked up is not escaped again."""
    once = markup('a & <b>\n"c"')
    assert once == 'a &amp; &lt;b&gt; "c"'
    assert markup(once) == once
    assert paragraph("x < y & z", styles()["Normal"]).getPlainText() == "x < y & z"
    assert cell("two\nlines", styles()["cell"]) == "two lines"
