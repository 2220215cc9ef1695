"""The cron job: this checkout's crontab line, installed, removed, and tried once as cron would.

Reads   cronjob.txt (the line, with /opt/dynamic-risk-assessment standing for the checkout)
Writes  the user's crontab (only the line tagged with this checkout's path)
Run     python cron.py line | install | remove   [--crontab CMD]   (make cronline/cron/uncron)

The line quotes every path (a checkout path may hold spaces or quotes) and escapes `%`
(cron turns an unescaped `%` into a newline). A trailing shell comment tags it with the
checkout's path, so installing replaces this checkout's line and no other.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from risk_assessment.core.common import PROJECT_DIR, RiskError

TEMPLATE = PROJECT_DIR / "cronjob.txt"
PLACEHOLDER = "/opt/dynamic-risk-assessment"
TAG = "# dynamic-risk-assessment checkout "
CRON_LOG = "logs/cron.log"


def sh_quote(text: str) -> str:
    """text in single quotes for /bin/sh, always quoted (a ' becomes '\\'')."""
    return "'" + text.replace("'", "'\\''") + "'"


def cron_escape(text: str) -> str:
    """text with every % escaped for crontab."""
    return text.replace("%", "\\%")


def cron_tag(project: Path = PROJECT_DIR) -> str:
    """The comment that ends this checkout's line, as written in the crontab."""
    return cron_escape(TAG + str(project))


def cron_line(project: Path = PROJECT_DIR, template: Path = TEMPLATE) -> str:
    """The crontab line of cronjob.txt for a checkout: paths quoted, % escaped, tagged."""
    lines = template.read_text(encoding="utf-8").splitlines()
    line = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")][0]
    command = line.replace(PLACEHOLDER, sh_quote(str(project)))
    return cron_escape(command) + " " + cron_tag(project)


def cron_command(line: str) -> str:
    """What cron hands to /bin/sh for a line: the command after the five time fields,
    with `\\%` turned back into `%`."""
    return line.split(None, 5)[5].replace("\\%", "%")


def crontab_without(existing: str, project: Path = PROJECT_DIR) -> str:
    """A crontab's text without this checkout's tagged line; other lines kept as they are."""
    tag = cron_tag(project)
    kept = [ln for ln in existing.splitlines() if not ln.rstrip().endswith(tag)]
    return "".join(ln + "\n" for ln in kept)


def crontab_with(existing: str, line: str, project: Path = PROJECT_DIR) -> str:
    """A crontab's text with this checkout's line replaced by (or added as) line."""
    return crontab_without(existing, project) + line + "\n"


def read_crontab(crontab: str) -> str:
    """The user's crontab ('' when there is none yet)."""
    done = subprocess.run([*shlex.split(crontab), "-l"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


def write_crontab(text: str, crontab: str) -> None:
    """Replace the user's crontab with text; RiskError with crontab's message on failure."""
    done = subprocess.run([*shlex.split(crontab), "-"], input=text, capture_output=True, text=True)
    if done.returncode != 0:
        raise RiskError(f"crontab: {done.stderr.strip() or 'could not install the line'}")


def run_like_cron(line: str, home: str) -> subprocess.CompletedProcess:
    """Run a cron line's command once as cron would: an empty environment and /bin/sh."""
    return subprocess.run(
        ["env", "-i", f"HOME={home}", "/bin/sh", "-c", cron_command(line)],
        capture_output=True,
        text=True,
        timeout=3600,
    )


def install(crontab: str, project: Path = PROJECT_DIR) -> int:
    """Install this checkout's line, run it once as cron would, and say how it went."""
    line = cron_line(project)
    write_crontab(crontab_with(read_crontab(crontab), line, project), crontab)
    print(f"installed in the crontab:\n{line}")
    log = project / CRON_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    before = log.stat().st_size if log.exists() else 0
    start = time.monotonic()
    done = run_like_cron(line, os.environ.get("HOME", "/"))
    with open(log, "rb") as fh:
        fh.seek(before)
        added = fh.read().decode("utf-8", "replace").strip()
    print(
        f"ran it once as cron would (env -i, /bin/sh): exit {done.returncode} "
        f"in {time.monotonic() - start:.1f} s; {CRON_LOG}: "
        + (f"\n{added}" if added else "nothing new (only warnings and errors go there)")
    )
    if done.stderr.strip():  # the shell itself failed (bad path, missing python)
        print(done.stderr.strip())
    return done.returncode


def remove(crontab: str, project: Path = PROJECT_DIR) -> int:
    """Remove this checkout's line from the crontab (other lines stay)."""
    existing = read_crontab(crontab)
    kept = crontab_without(existing, project)
    if kept == existing:
        print("no line of this checkout in the crontab")
        return 0
    write_crontab(kept, crontab)
    print(f"removed this checkout's line ({project}) from the crontab")
    return 0


def main() -> int:
    """line: print the line; install / remove: change the user's crontab."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["line", "install", "remove"])
    parser.add_argument("--crontab", default="crontab", help="the crontab command to use")
    args = parser.parse_args()
    if args.action == "line":
        print(cron_line())
        return 0
    try:
        return (install if args.action == "install" else remove)(args.crontab)
    except (RiskError, OSError) as exc:
        print(f"cron: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
