"""portal/ and jobs/ have no import cycles (grimp is the graph library behind import-linter),
and every module of theirs can be the first one a fresh interpreter imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: imports every third-party module the project loads, then forks
# one child per project module that imports that module first (the children share nothing of
# the project, so each sees the import order a process starting with that module sees).
FIRST_IMPORT_SCRIPT = r"""
import importlib, os, signal, subprocess, sys

modules = sys.argv[1:]
loader = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\n"
loader += "print('\\n'.join(sorted(sys.modules)))"
loaded = subprocess.run(
    [sys.executable, "-c", loader, *modules], capture_output=True, text=True, check=True
).stdout.split()
for name in loaded:
    if name.split(".")[0] not in ("portal", "jobs", "tests", "__main__"):
        try:
            importlib.import_module(name)
        except Exception:
            pass  # a private or platform module: the child imports it itself
failed = []
for name in modules:
    pid = os.fork()
    if pid == 0:
        signal.alarm(120)
        try:
            importlib.import_module(name)
        except BaseException as error:
            sys.stderr.write(f"{name}: {type(error).__name__}: {error}\n")
            sys.stderr.flush()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status:
        failed.append(name)
print("failed:", *failed)
"""


def project_modules() -> list[str]:
    """Every module of portal/ and jobs/ by its dotted name."""
    names = []
    for package in ("portal", "jobs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(parts))
    return names


def test_no_module_of_portal_or_jobs_takes_part_in_an_import_cycle():
    graph = grimp.build_graph("portal", "jobs", exclude_type_checking_imports=True)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported == importer or imported.startswith(importer + "."):
                continue  # a package importing its own submodule is not a cycle
            if importer.startswith(imported + "."):
                continue  # a submodule reaching its package's __init__
            if graph.chain_exists(importer=imported, imported=importer):
                cycles.append(f"{importer} -> {imported}")
    assert cycles == []


def test_every_module_of_portal_and_jobs_imports_first_in_a_fresh_interpreter():
    # grimp leaves out the implicit import of a package's __init__, so a module outside a
    # package that the package's __init__ reaches back to is only caught by importing it first.
    modules = project_modules()
    assert "portal.demo_events" in modules and "jobs.schedule" in modules
    done = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORT_SCRIPT, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    failed = done.stdout.split("failed:")[-1].split()
    assert failed == [], done.stderr[-3000:]
