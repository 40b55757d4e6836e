"""portal/ and jobs/ have no import cycles (grimp is the graph library behind import-linter)."""

from __future__ import annotations

import grimp


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
