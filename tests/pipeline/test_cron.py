"""cronjob.txt, cron.py and `make cron`: a quoted, tagged line; only this checkout's line
is replaced; the line runs under cron's empty environment; cron's log gets warnings only."""

from __future__ import annotations

import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from risk_assessment.pipeline import cron
from tests.conftest import ROOT, configure, run_script, small_rows, write_csv


def cron_line() -> str:
    """The line `make cronline` prints."""
    done = subprocess.run(
        ["make", "-s", "cronline"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def fake_checkout(folder: Path) -> Path:
    """A checkout whose .venv/bin/python records its arguments and working directory."""
    python = folder / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\nprintf "%s\\n" "$PWD" "$@" > "$HOME/ran.txt"\necho warned >&2\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    return folder  # no logs/ yet: the line creates it


def fake_crontab(tmp_path: Path) -> tuple[str, Path]:
    """A crontab command keeping the table in a file: (command, file)."""
    table = tmp_path / "crontab.txt"
    script = tmp_path / "crontab"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = -l ]; then cat {shlex.quote(str(table))} 2>/dev/null || exit 1; '
        f"else cat > {shlex.quote(str(table))}; fi\n"
    )
    script.chmod(0o755)
    return str(script), table


def test_cronjob_runs_every_ten_minutes():
    """The committed line's schedule is every 10 minutes."""
    line = [
        ln
        for ln in (ROOT / "cronjob.txt").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert len(line) == 1 and line[0].split()[:5] == ["*/10", "*", "*", "*", "*"]


def test_cronline_uses_this_checkouts_venv_script_and_log():
    """The installed line runs this checkout's venv Python on fullprocess.py, quietly."""
    line = cron_line()
    words = shlex.split(cron.cron_command(line), comments=True)
    assert words[:7] == ["cd", str(ROOT), "&&", "mkdir", "-p", "logs", "&&"]
    assert Path(words[7]) == ROOT / ".venv" / "bin" / "python"
    assert Path(words[8]) == ROOT / "fullprocess.py" and Path(words[8]).is_file()
    assert words[9] == "--quiet" and words[10] == ">>" and words[11] == str(ROOT / "logs/cron.log")
    assert line.endswith(f"# dynamic-risk-assessment checkout {ROOT}")


def test_line_survives_a_path_with_space_quote_and_percent(tmp_path):
    """Run under env -i and /bin/sh, the line reaches the right python, script and folder."""
    project = fake_checkout(tmp_path / "my risk's 100% dir")
    line = cron.cron_line(project)
    assert "100\\%" in line and "100%" not in line.replace("100\\%", "")
    done = cron.run_like_cron(line, str(tmp_path))
    assert done.returncode == 0, done.stderr
    ran = (tmp_path / "ran.txt").read_text().splitlines()
    assert ran == [str(project), str(project / "fullprocess.py"), "--quiet"]
    assert (project / "logs" / "cron.log").read_text() == "warned\n"


def test_install_replaces_only_this_checkouts_line_and_remove_removes_it(tmp_path, capsys):
    """Other users' lines and another checkout's fullprocess line stay untouched."""
    crontab, table = fake_crontab(tmp_path)
    other = "*/10 * * * * cd /other && python fullprocess.py " + cron.TAG + "/other"
    table.write_text(f"MAILTO=me\n0 3 * * * backup.sh\n{other}\n")
    project = fake_checkout(tmp_path / "checkout")
    old = cron.cron_line(project).replace("*/10", "*/5")
    table.write_text(table.read_text() + old + "\n")
    assert cron.install(crontab, project) == 0
    lines = table.read_text().splitlines()
    assert lines == ["MAILTO=me", "0 3 * * * backup.sh", other, cron.cron_line(project)]
    assert cron.install(crontab, project) == 0  # again: still one line
    assert table.read_text().splitlines() == lines
    out = capsys.readouterr().out
    assert "ran it once as cron would (env -i, /bin/sh): exit 0" in out and "warned" in out
    assert cron.remove(crontab, project) == 0
    assert table.read_text().splitlines() == lines[:3]


def test_make_uncron_with_a_crontab_command(tmp_path):
    """`make uncron CRONTAB=...` removes this checkout's line only."""
    crontab, table = fake_crontab(tmp_path)
    table.write_text(f"0 3 * * * backup.sh\n{cron.cron_line(ROOT)}\n")
    done = subprocess.run(
        ["make", "-s", "uncron", f"CRONTAB={crontab}"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert table.read_text() == "0 3 * * * backup.sh\n"


# fullprocess.py run twice as cron runs it, about 7 s: run by make test-slow
@pytest.mark.slow
def test_quiet_sends_only_warnings_to_stderr_and_info_to_the_log(workspace):
    """fullprocess.py --quiet (as cron runs it): stderr has warnings only; the log has INFO."""
    config = configure(workspace)
    write_csv(config["input_folder_path"] / "bad.csv", [], header="nonsense")
    args = ["--config", str(config["config_file"]), "--quiet"]
    done = run_script("fullprocess.py", *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() and all(" WARNING " in ln for ln in done.stderr.splitlines())
    log = (config["output_folder_path"] / "fullprocess.log").read_text()
    assert " INFO " in log and "deployed v0001" in log
    write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(5, 400))
    done = run_script("fullprocess.py", *args)
    assert done.returncode == 0 and done.stderr == ""
