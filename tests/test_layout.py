"""The layout: imports run one way down the pipeline, into helpers, with no circle."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import ROOT

# The pipeline's scripts in order: a script may use those before it, never after it.
PIPELINE = [
    "ingestion",
    "training",
    "scoring",
    "deployment",
    "diagnostics",
    "reporting",
]
TOP = {"app", "fullprocess"}  # may use every script above
HELPERS = {"store", "monitoring", "dataset", "risk", "common", "settings", "locking"}
# Parts: a module split off one script to keep files short. A part takes its owner's
# place in the pipeline: it uses what its owner may use, and only its owner and the
# scripts after it use the part.
PARTS = {
    "sources": "ingestion",
    "ingestion_database": "ingestion",
    "signing": "deployment",
    "report_pdf": "reporting",
    "model_health": "reporting",
    "report_text": "reporting",
    "dashboard": "app",
    "openapi": "app",
    "openapi_schemas": "app",
    "protocol": "app",
    "serving": "app",
    "metrics": "app",
    "batch_steps": "fullprocess",
    "judging": "fullprocess",
    "gating": "fullprocess",
    "notify": "fullprocess",
    "cron": "fullprocess",
    "store_files": "store",
    "store_tables": "store",
    "verdicts": "monitoring",
}
# Entry points outside the pipeline: the API client, the sample-data generator and
# the production server's two files.
STANDALONE = {"apicalls", "generate_data", "wsgi", "gunicorn.conf"}


def project_modules() -> set[str]:
    """Every top-level module of the project."""
    return {p.stem for p in ROOT.glob("*.py")}


def imports_of(name: str, modules: set[str]) -> set[str]:
    """The project modules a module imports, at the top or inside functions."""
    tree = ast.parse((ROOT / f"{name}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return (found & modules) - {name}


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = project_modules()
    return {m: imports_of(m, modules) for m in modules}


def test_no_import_circle():
    """No module reaches itself through the imports of others."""
    edges = graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [m for m in edges if reaches(m, m, {m})] == []


def test_scripts_use_only_scripts_before_them():
    """A pipeline script imports no script after it (nor app or fullprocess)."""
    edges = graph()
    for i, script in enumerate(PIPELINE):
        later = set(PIPELINE[i + 1 :]) | TOP
        assert not (edges[script] & later), (script, edges[script] & later)


def rank(module: str) -> int:
    """A module's place: helpers -1, scripts by pipeline order, app/fullprocess last."""
    owner = PARTS.get(module, module)
    if owner in HELPERS:
        return -1
    return len(PIPELINE) if owner in TOP else PIPELINE.index(owner)


def test_every_module_has_a_place():
    """Each top-level module is a script, a helper, a part of one script or an entry point."""
    placed = set(PIPELINE) | TOP | HELPERS | set(PARTS) | STANDALONE
    assert project_modules() == placed
    assert set(PARTS.values()) <= set(PIPELINE) | TOP | HELPERS


def may_import(module: str, imported: str) -> bool:
    """Whether module may import imported: anything placed before it, parts of its own
    owner, helpers among helpers (test_no_import_circle keeps them apart); an entry
    point only from fullprocess and its parts (the cycle calls apicalls, as the original
    project did)."""
    if imported in STANDALONE:
        return PARTS.get(module, module) == "fullprocess"
    return (
        rank(imported) < rank(module)
        or PARTS.get(imported, imported) == PARTS.get(module, module)
        or rank(imported) == rank(module) == -1
    )


def test_imports_run_down_the_pipeline_through_parts():
    """Every import of every module (entry points aside) follows may_import."""
    edges = graph()
    for module, imported in edges.items():
        if module not in STANDALONE:
            wrong = {x for x in imported if not may_import(module, x)}
            assert not wrong, (module, wrong)


def test_helpers_import_no_script():
    """store, monitoring, dataset, risk and common stand under every script."""
    edges = graph()
    scripts = set(PIPELINE) | TOP | {"apicalls"}
    for helper in HELPERS:
        assert not (edges[helper] & scripts), (helper, edges[helper] & scripts)
    assert edges["common"] == set()


def test_apicalls_is_a_client_that_imports_no_script():
    """apicalls.py imports no script, and --help loads no pandas, scikit-learn, reportlab."""
    assert not (graph()["apicalls"] & (set(PIPELINE) | TOP))
    code = (
        "import runpy, sys; sys.argv = ['apicalls.py', '--help']\n"
        "try:\n    runpy.run_path('apicalls.py', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pandas', 'sklearn', 'reportlab') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr


def test_only_the_store_reads_or_writes_the_ingestion_record():
    """The record's layout is known in one place: no module but store.py and its parts
    names the ingestion record's file (deployment copies it as a file among others)."""
    readers = {
        m
        for m in project_modules()
        if "INGESTION_RECORD" in (ROOT / f"{m}.py").read_text(encoding="utf-8")
    }
    assert readers <= {"common", "store", "store_files", "deployment"}, readers


def test_every_script_and_helper_has_its_own_test_file():
    """Tests mirror the code (flaskr): tests/test_<module>.py for each script and helper;
    a part is tested in its own file or its owner's."""
    tested = {p.stem.removeprefix("test_") for p in (ROOT / "tests").glob("test_*.py")}
    untested = (set(PIPELINE) | TOP | HELPERS | {"apicalls"}) - tested
    assert untested == set()
