"""The PDF report's building blocks: styles, a paragraph, a table, a section (a heading
kept with its content). Used by pdf.py, pdf_front.py and pdf_science.py; reads or writes
nothing.

Every text that reaches a reportlab Paragraph goes through paragraph(), so the user's words
(levels, labels, column, file and client names) show as written: text.markup() escapes
&, < and > once and turns line breaks into spaces. The text is set in DejaVu Sans (shipped
with matplotlib, embedded in the PDF), which draws Latin, Greek and Cyrillic letters and
many symbols; reportlab's built-in Helvetica draws only Windows-1252 and showed a box for
'Москва' or '⛏'.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import matplotlib
from reportlab.lib import colors
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle

from risk_assessment.reports.text import Markup, markup, one_line


@cache
def fonts() -> tuple[str, str]:
    """(regular, bold) font names: DejaVu Sans from matplotlib's fonts, registered once;
    Helvetica when those files cannot be read."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    try:
        for name in ("DejaVuSans", "DejaVuSans-Bold"):
            pdfmetrics.registerFont(TTFont(name, str(folder / f"{name}.ttf")))
    except (OSError, TTFError):
        return "Helvetica", "Helvetica-Bold"
    return "DejaVuSans", "DejaVuSans-Bold"


def styles():
    """The sample stylesheet in fonts(), with smaller cell styles (head: a header cell,
    bold)."""
    st = getSampleStyleSheet()
    regular, bold = fonts()
    for style in st.byName.values():
        if hasattr(style, "fontName"):  # paragraph styles (not the list styles)
            style.fontName = bold if "Bold" in style.fontName else regular
    st.add(st["BodyText"].clone("cell", fontSize=8.5, leading=10.5))
    st.add(st["cell"].clone("head", fontName=bold))
    st.add(st["BodyText"].clone("lead", fontSize=10.5, leading=14, spaceAfter=4))
    st["Heading1"].keepWithNext = 1  # never a heading alone at the foot of a page
    return st


def paragraph(text: Any, style) -> Paragraph:
    """A Paragraph showing text as written (text.Markup: as the markup it is)."""
    return Paragraph(markup(text), style)


def cell(value: Any, wrap, fixed: bool = False) -> Any:
    """A table cell: text that may not fit wraps (a Paragraph: long text, or any text in a
    column of fixed width), short text stays a string (drawn as written, on one line)."""
    if isinstance(value, Markup) or (fixed and isinstance(value, str)):
        return paragraph(value, wrap)
    text = one_line(value)
    return paragraph(text, wrap) if len(text) > 30 else text


def table(rows: list[list[Any]], widths: list[float] | None = None, st=None) -> Table:
    """A report table: bold header row (repeated on each page), light grid, zebra rows.
    With widths, every text cell wraps within its column."""
    st = st or styles()
    cells = [
        [
            c if hasattr(c, "wrap") else cell(c, st["cell" if i else "head"], widths is not None)
            for c in row
        ]
        for i, row in enumerate(rows)
    ]
    t = Table(cells, colWidths=widths, hAlign="LEFT", repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), fonts()[0]),
                ("FONTNAME", (0, 0), (-1, 0), fonts()[1]),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f5f7fa")]),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c4")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


def section(title: str, st, *content, keep: bool = True) -> list:
    """A heading and its content (kept on one page when small)."""
    block = [paragraph(title, st["Heading2"]), *content, Spacer(1, 4)]
    return [KeepTogether(block)] if keep else block
