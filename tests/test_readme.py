"""The commands of the README and docs/ as written: every curl example against the production
server; the README short, linking the docs; every config key documented."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.conftest import ROOT, configure, deploy_workspace, production_server

README = ROOT / "README.md"
DOCS = ROOT / "docs"


def doc_files() -> list[Path]:
    """README.md and every docs/*.md: where the tested commands live."""
    return [README, *sorted(DOCS.glob("*.md"))]


def readme_commands(prefix: str, files: Iterable[Path] = (README,)) -> list[str]:
    """Every command starting with prefix in the ```sh blocks of files (the README alone
    unless told: a fresh clone runs only what the README says), continuations joined,
    each once, in order."""
    commands = []
    for file in files:
        blocks = re.findall(r"```sh\n(.*?)```", file.read_text(encoding="utf-8"), re.S)
        for block in blocks:
            for line in block.replace("\\\n", " ").splitlines():
                command = re.sub(r"\s+#\s.*$", "", line).strip()  # drop a trailing comment
                if command.startswith(prefix):
                    commands.append(re.sub(r"\s+", " ", command))
    return list(dict.fromkeys(commands))


def test_readme_has_the_curl_examples():
    """The extraction finds every endpoint's example in the README and docs/ (so the test
    below cannot go empty)."""
    commands = readme_commands("curl ", doc_files())
    paths = {re.search(r"localhost:8000(/[a-z]*)", c).group(1) for c in commands}
    assert {"/prediction", "/invocations", "/scoring", "/summarystats", "/diagnostics"} <= paths
    assert {"/risk", "/health"} <= paths and len(commands) >= 10


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_every_curl_example_answers_on_the_production_server(shipped):
    """Each curl example of the README and docs/, run as written (port aside) from the
    project folder of a deployed copy of the shipped data, against `make serve`: 200 and
    JSON (a CSV download into the file -o names, and Prometheus' text for /metrics)."""
    config = configure(shipped)
    deploy_workspace(config)
    with production_server(config["config_file"], via_make=True) as url:
        for command in readme_commands("curl ", doc_files()):
            here = command.replace("localhost:8000", url.removeprefix("http://"))
            download = shipped / command.split(" -o ")[1].split()[0] if " -o " in command else None
            if download:
                download.unlink(missing_ok=True)  # not one a run before left
            done = subprocess.run(
                here + " -w '\\n%{http_code}'",
                shell=True,
                cwd=shipped,
                capture_output=True,
                text=True,
                timeout=60,
            )
            body, _, status = done.stdout.rpartition("\n")
            assert done.returncode == 0 and status == "200", (command, done.stdout[-300:])
            if download:  # the file it names (relative: in the project folder) holds the CSV
                assert download.read_text().startswith("corporation,"), command
            elif "/metrics" in command:  # Prometheus' text format
                assert "risk_model_info" in body, command
            else:
                assert json.loads(body) is not None, command


def test_every_config_key_is_in_the_readmes_table():
    """Each setting of settings.DEFAULTS has a row in docs/configuration.md's table (as
    `section.key`, or `key` in a row of its section)."""
    from risk_assessment.core.settings import DEFAULTS

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    missing = []
    for section, value in DEFAULTS.items():
        keys = list(value) if isinstance(value, dict) else [None]
        for key in keys:
            name = section if key is None else f"{section}.{key}"
            in_row = any(
                f"`{name}`" in row or (f"`{section}." in row and f"`{key}`" in row) for row in rows
            )
            if not in_row:
                missing.append(name)
    assert missing == []


def test_readme_is_short_and_points_into_the_docs():
    """The README fits on a few screens, and its first screen names `make help` and links
    every docs/*.md file."""
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 320
    first_screen = "\n".join(lines[:40])
    assert "make help" in first_screen
    docs = sorted(DOCS.glob("*.md"))
    assert docs, "docs/ holds no .md file"
    missing = [d.name for d in docs if f"](docs/{d.name})" not in first_screen]
    assert missing == []


def heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (outside code blocks)."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("source", doc_files(), ids=lambda p: p.name)
def test_every_link_to_a_file_of_the_project_leads_somewhere(source):
    """Each relative link of the README and docs/ names a file that exists, and a heading
    of it when the link has an anchor (docs/*.md linked from the README among them)."""
    text = re.sub(r"```.*?```", "", source.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # https: and the like
            continue
        name, _, anchor = target.partition("#")
        path = (source.parent / name).resolve() if name else source
        if not path.exists() or (anchor and anchor not in heading_anchors(path)):
            broken.append(target)
    assert broken == []
