"""The layout: scripts at the top, one package under them, imports running one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = "risk_assessment"
# The top level is the design card: these scripts and nothing else of Python but the
# production server's settings file.
SCRIPTS = {
    "ingestion", "training", "scoring", "deployment", "diagnostics", "reporting", "app",
    "wsgi", "apicalls", "fullprocess", "generate_data",
}  # fmt: skip
# The sub-packages in order: each may import only those before it in this table.
ORDER = [
    "core", "schema", "store", "access", "sources", "monitoring", "modelling", "deployment",
    "reports", "server", "client", "samples", "pipeline",
]  # fmt: skip
# Exceptions to "everything before it": a light sub-package that must stay light.
MAY_IMPORT = {
    "access": {"core", "store"},
    "monitoring": {"core"},
    "client": {"core"},
    "samples": {"core"},
    "pipeline": set(ORDER) - {"pipeline", "server"},
}


def allowed(sub: str) -> set[str]:
    """The sub-packages that sub may import."""
    return MAY_IMPORT.get(sub, set(ORDER[: ORDER.index(sub)]))


def package_modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package."""
    found = {}
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported_modules(path: Path) -> set[str]:
    """The absolute module names a file imports (for `from a import b`, a.b and a)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def sub_of(module: str) -> str | None:
    """The sub-package of a dotted module name (None for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def module_graph() -> dict[str, set[str]]:
    """Package module -> the package modules it imports."""
    modules = package_modules()
    return {m: imported_modules(p) & set(modules) for m, p in modules.items()}


def test_the_top_level_is_the_design_card():
    """The only Python files at the top are the scripts and gunicorn.conf.py."""
    assert {p.stem for p in ROOT.glob("*.py")} == SCRIPTS | {"gunicorn.conf"}


def test_every_sub_package_is_in_the_order_and_says_what_it_owns():
    """Each folder of the package is in ORDER and has an __init__.py docstring that names
    what it may import; ORDER has no folder that does not exist."""
    folders = {p.parent.name for p in (ROOT / PACKAGE).glob("*/__init__.py")}
    assert folders == set(ORDER)
    for sub in ORDER:
        doc = ast.get_docstring(ast.parse((ROOT / PACKAGE / sub / "__init__.py").read_text()))
        assert doc and "May import" in doc, sub


def test_sub_packages_import_only_those_before_them():
    """An import between sub-packages follows ORDER (and MAY_IMPORT's exceptions)."""
    wrong = []
    for module, imported in module_graph().items():
        here = sub_of(module)
        for target in imported:
            there = sub_of(target)
            if here and there and there != here and there not in allowed(here):
                wrong.append((module, target))
    assert wrong == []


def test_no_import_circle_between_modules():
    """No package module reaches itself through the imports of others."""
    edges = module_graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [m for m in edges if reaches(m, m, {m})] == []


def test_the_package_imports_no_script_and_scripts_import_only_the_package():
    """Nothing under risk_assessment/ imports a top-level script; a script imports the
    standard library, third-party packages and the package, never another script."""
    for path in (ROOT / PACKAGE).rglob("*.py"):
        tops = {m.split(".")[0] for m in imported_modules(path)}
        assert not (tops & SCRIPTS), (path, tops & SCRIPTS)
    for script in SCRIPTS:
        tops = {m.split(".")[0] for m in imported_modules(ROOT / f"{script}.py")}
        assert not (tops & SCRIPTS), (script, tops & SCRIPTS)


def test_scripts_are_thin_edges():
    """A script is a docstring, imports, main() and the __main__ guard (wsgi: the app)."""
    for script in SCRIPTS - {"wsgi"}:
        tree = ast.parse((ROOT / f"{script}.py").read_text(encoding="utf-8"))
        functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert functions == ["main"], (script, functions)
        assert ast.get_docstring(tree), script


def test_the_core_imports_nothing_of_the_package():
    """core stands under everything: it imports no other sub-package."""
    for module, imported in module_graph().items():
        if sub_of(module) == "core":
            assert {sub_of(t) for t in imported} <= {"core"}, module


def test_apicalls_is_a_light_client():
    """apicalls.py --help loads no pandas, scikit-learn or reportlab."""
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
    """The record's layout is known in one place: no module outside the store sub-package
    but core's names names the ingestion record's file (deployment copies it as a file)."""
    readers = {
        m
        for m, path in package_modules().items()
        if "INGESTION_RECORD" in path.read_text(encoding="utf-8")
    }
    others = {r for r in readers if sub_of(r) != "store"}
    assert others <= {f"{PACKAGE}.core.common", f"{PACKAGE}.deployment.versions"}, readers


def test_tests_mirror_the_package():
    """Each sub-package has its tests/<sub>/ folder of test files, and every module is
    imported by a test or by a module a test imports (no module goes untested)."""
    for sub in ORDER:
        assert list((ROOT / "tests" / sub).glob("test_*.py")), sub
    modules, edges = package_modules(), module_graph()
    reached = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        reached |= imported_modules(path) & set(modules)
    frontier = set(reached)
    while frontier:
        frontier = set().union(*(edges[m] for m in frontier)) - reached
        reached |= frontier
    untested = {m for m, p in modules.items() if p.name != "__init__.py"} - reached
    assert untested == set()


def test_files_and_functions_stay_short():
    """Every module is at most 400 lines and every function at most 40."""
    long_files, long_functions = [], []
    for path in [*(ROOT / PACKAGE).rglob("*.py"), *ROOT.glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 400:
            long_files.append(path.name)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.end_lineno - node.lineno + 1 > 40:
                    long_functions.append(f"{path.name}:{node.name}")
    assert long_files == [] and long_functions == []


def schema_parameters(trees: dict[Path, ast.Module]) -> dict[str, int]:
    """Per function name of the package whose every definition takes `schema` with a
    default (the course's columns): the position of that parameter."""
    found: dict[str, list[int | None]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [a.arg for a in node.args.posonlyargs + node.args.args]
                names = names[1:] if names[:1] in (["self"], ["cls"]) else names
                defaulted = names[len(names) - len(node.args.defaults) :]
                found.setdefault(node.name, []).append(
                    names.index("schema") if "schema" in defaulted else None
                )
    return {name: min(at) for name, at in found.items() if None not in at}


def test_every_call_passes_the_configured_schema_on():
    """A package function that takes `schema` falls back to the course's five columns when
    a caller leaves it out: every call inside the package passes it (by position or
    keyword), so a user's columns reach every part from the one definition."""
    trees = {p: ast.parse(p.read_text()) for p in (ROOT / PACKAGE).rglob("*.py")}
    takes = schema_parameters(trees)
    missing = []
    for path, tree in trees.items():
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            func = call.func
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if name not in takes or any(k.arg in ("schema", None) for k in call.keywords):
                continue
            if len(call.args) <= takes[name] and not any(
                isinstance(a, ast.Starred) for a in call.args
            ):
                missing.append(f"{path.relative_to(ROOT)}:{call.lineno} {name}()")
    assert not missing, f"calls that leave the schema out: {missing}"
