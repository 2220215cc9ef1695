"""pdf_blocks.py: the report's fonts draw the user's letters, not boxes."""

from __future__ import annotations

from pypdf import PdfReader

from risk_assessment.core.columns import DEFAULT_SCHEMA
from risk_assessment.reports import reporting
from tests.conftest import HEADER, configure, deploy_workspace, small_rows, write_csv

CITIES = ["Москва", "Αθήνα", "Berlin"]


def city_rows(n: int, start: int) -> list[tuple]:
    """small_rows with Cyrillic ids and a city (Cyrillic, Greek, Latin) before the target."""
    return [
        (f"Клиент-{start + i}", *row[1:-1], CITIES[(start + i) % 3], row[-1])
        for i, row in enumerate(small_rows(n, start))
    ]


def test_cyrillic_and_greek_words_reach_the_pdf_as_written(workspace):
    """Ids and category levels in Cyrillic and Greek read back from the PDF as written
    (before: Helvetica's Windows-1252 drew a box for each such letter); the text is set
    in DejaVu Sans, embedded."""
    header = HEADER.replace(",exited", ",city,exited")
    write_csv(workspace / "practicedata" / "dataset1.csv", city_rows(40, 0), header)
    write_csv(workspace / "practicedata" / "dataset2.csv", [], header)
    write_csv(workspace / "testdata" / "testdata.csv", city_rows(15, 100), header)
    schema = DEFAULT_SCHEMA.to_dict()
    schema["features"]["city"] = {"type": "category"}
    config = configure(workspace, schema=schema)
    deploy_workspace(config)
    path = reporting.run_reporting(config)["report"]
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(path).pages)
    assert "city: Москва" in text and "city: Αθήνα" in text
    assert "Клиент-" in text
    assert b"DejaVuSans" in path.read_bytes()
