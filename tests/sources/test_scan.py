"""Unit tests of sources.py (ingestion's part): which files of the input folder are new."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from risk_assessment.core.common import sha256_file
from risk_assessment.sources.scan import scan_input


def record_of(*paths: Path) -> dict:
    """An ingestion record that has already handled the given files' contents."""
    return {"files": [{"name": p.name, "sha256": sha256_file(p)} for p in paths], "runs": []}


# --- find_new_files --------------------------------------------------------------------


def find_new_files(folder: Path, record: dict) -> list[Path]:
    """The new files of folder against a record's hashes and stamps (scan_input)."""
    entries = record["files"]
    stamps = {(e.get("path"), e.get("size"), e.get("mtime_ns")) for e in entries}
    return [path for path, _ in scan_input(folder, {e["sha256"] for e in entries}, stamps).new]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A folder with two small CSV files."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (folder / "b.csv").write_text("x\n2\n", encoding="utf-8")
    return folder


def test_find_new_files_skips_known_hashes(inbox):
    """Files whose content the record holds are not new; the others are, sorted by name."""
    (inbox / "c.csv").write_text("x\n3\n", encoding="utf-8")
    (inbox / "notes.txt").write_text("not a csv\n", encoding="utf-8")
    assert find_new_files(inbox, record_of(inbox / "a.csv")) == [inbox / "b.csv", inbox / "c.csv"]
    assert find_new_files(inbox, {"files": [], "runs": []}) == sorted(inbox.glob("*.csv"))


def test_renamed_copy_of_known_file_is_not_new(inbox):
    """A copy of a known file under another name is not new data."""
    record = record_of(inbox / "a.csv", inbox / "b.csv")
    shutil.copy(inbox / "a.csv", inbox / "a_copy.csv")
    assert find_new_files(inbox, record) == []


def test_changed_file_is_new(inbox):
    """A known file whose content changed in place is new again."""
    record = record_of(inbox / "a.csv", inbox / "b.csv")
    with open(inbox / "b.csv", "a", encoding="utf-8") as fh:
        fh.write("4\n")
    assert find_new_files(inbox, record) == [inbox / "b.csv"]
