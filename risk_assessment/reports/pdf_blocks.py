"""The PDF report's building blocks: styles, a table, a section (a heading kept with its
content). Used by pdf.py and pdf_front.py; reads or writes nothing."""

from __future__ import annotations

from typing import Any

from reportlab.lib import colors
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle


def styles():
    """The sample stylesheet with a smaller cell style."""
    st = getSampleStyleSheet()
    st.add(st["BodyText"].clone("cell", fontSize=8.5, leading=10.5))
    st.add(st["BodyText"].clone("lead", fontSize=10.5, leading=14, spaceAfter=4))
    st["Heading1"].keepWithNext = 1  # never a heading alone at the foot of a page
    return st


def cell(value: Any, wrap) -> Any:
    """A table cell: long text wraps (a Paragraph), short text stays a string."""
    text = str(value)
    return Paragraph(text, wrap) if len(text) > 30 else text


def table(rows: list[list[Any]], widths: list[float] | None = None, st=None) -> Table:
    """A report table: bold header row (repeated on each page), light grid, zebra rows."""
    wrap = (st or styles())["cell"]
    cells = [[c if hasattr(c, "wrap") else cell(c, wrap) for c in row] for row in rows]
    t = Table(cells, colWidths=widths, hAlign="LEFT", repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
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
    block = [Paragraph(title, st["Heading2"]), *content, Spacer(1, 4)]
    return [KeepTogether(block)] if keep else block
