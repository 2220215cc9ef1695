"""Unit tests of common.py: atomic writes, file hashes and the environment check."""

from __future__ import annotations

import hashlib
import os

import pytest

from risk_assessment.core.common import sha256_file, write_atomic

# --- write_atomic ----------------------------------------------------------------------


def test_write_atomic_writes_text_and_bytes(tmp_path):
    """Text is written as UTF-8, bytes as given, creating the folder."""
    text_file = write_atomic(tmp_path / "out" / "a.txt", "héllo\n")
    bytes_file = write_atomic(tmp_path / "out" / "b.bin", b"\x00\x01")
    assert text_file.read_bytes() == "héllo\n".encode()
    assert bytes_file.read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path / "out")) == ["a.txt", "b.bin"]


def test_write_atomic_replaces_existing_file(tmp_path):
    """An existing file is replaced whole and no temp file is left behind."""
    target = tmp_path / "data.csv"
    target.write_text("old content that is longer than the new one\n", encoding="utf-8")
    write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert os.listdir(tmp_path) == ["data.csv"]


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    """A write that fails midway leaves the old file unchanged and no *.tmp file."""
    target = tmp_path / "data.csv"
    target.write_bytes(b"old\n")
    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # not bytes: the write into the temp file fails
    assert target.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["data.csv"]


# --- sha256_file -----------------------------------------------------------------------


def test_sha256_file_matches_hashlib(tmp_path):
    """The file hash equals hashlib's, whatever the chunk size."""
    payload = bytes(range(256)) * 50
    path = tmp_path / "blob.bin"
    path.write_bytes(payload)
    expected = hashlib.sha256(payload).hexdigest()
    assert sha256_file(path) == expected
    assert sha256_file(path, chunk=7) == expected


SCRIPTS = [
    "app.py", "apicalls.py", "deployment.py", "diagnostics.py", "fullprocess.py",
    "generate_data.py", "ingestion.py", "reporting.py", "scoring.py",
    "training.py", "wsgi.py",
]  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_python_without_the_packages_gets_one_line(script, tmp_path):
    """Run by a bare interpreter (no site-packages: no pandas), a script prints one line
    naming .venv/bin/python, no traceback, exit 1, and records no run."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    bare = getattr(sys, "_base_executable", None) or sys.executable
    done = subprocess.run(
        [bare, "-S", "-E", str(ROOT / script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{script}: ") and "lacks" in lines[0] and "pandas" in lines[0]
    assert str(ROOT / ".venv" / "bin" / "python") in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_the_environment_check_passes_here_and_costs_little():
    """In .venv nothing is missing, and the check takes milliseconds (no import)."""
    import time

    from risk_assessment.core.common import check_environment

    start = time.perf_counter()
    check_environment()
    assert time.perf_counter() - start < 0.5
