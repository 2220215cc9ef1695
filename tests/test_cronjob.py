"""cronjob.txt and `make cronline`: a valid every-10-minutes line with this checkout's paths."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from conftest import ROOT


def cron_line() -> str:
    """The line `make cronline` prints."""
    done = subprocess.run(
        ["make", "-s", "cronline"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_cronjob_runs_every_ten_minutes():
    """The committed line's schedule is every 10 minutes."""
    line = [
        ln
        for ln in (ROOT / "cronjob.txt").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert len(line) == 1 and line[0].split()[:5] == ["*/10", "*", "*", "*", "*"]


def test_cronline_uses_this_checkouts_venv_script_and_log():
    """The installed line runs this checkout's venv Python on fullprocess.py, logging to a file."""
    words = shlex.split(cron_line())
    python, script = words[8], words[9]
    assert Path(python) == ROOT / ".venv" / "bin" / "python"
    assert Path(script) == ROOT / "fullprocess.py" and Path(script).is_file()
    assert words[6] == str(ROOT)  # cd into the project first
    assert words[10] == ">>" and Path(words[11]).is_absolute() and words[11].endswith(".log")
