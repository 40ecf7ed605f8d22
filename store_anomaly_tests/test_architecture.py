"""Imports follow the data flow (sources -> kpis -> spc -> alerts -> reports, shared toolkits below them) and
form no cycle, including imports hidden inside functions."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import store_anomaly

PACKAGE_DIR = Path(store_anomaly.__file__).parent

# The layer of each top-level part of the package, lowest first: a module may import its own layer and the
# layers below it, never one above.
LAYER_OF_PART: dict[str, int] = {
    # shared toolkits
    "__init__": 0,
    "config": 0,
    "settings": 0,
    "mysql": 0,
    "table_schemas": 0,
    "holiday_calendar": 0,
    "partitions": 0,
    "date_ranges": 0,  # business dates as ranges (no Dagster import)
    "io_managers": 0,
    "ack_log": 0,
    "instance_storage": 0,  # the Dagster instance's event log (loaded by the webserver and the daemon)
    "text_table": 0,
    "texts": 0,  # the texts of every language (alerts, notifications, reports)
    # the data flow
    "sources": 1,
    "resources": 1,  # connections to the sources; checks their tables against the source contract
    "kpis": 2,
    "spc": 3,
    "alerts": 4,
    "reports": 5,
    # what runs it all
    "automation": 6,
    "definitions": 6,
    "runner": 6,
    "cli": 6,
}


def module_name(path: Path) -> str:
    parts = ["store_anomaly", *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports anywhere in its body (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` imports the submodule; `from module import name` the module.
            names = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                for alias in node.names
            ]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imported_modules(path, modules) - {name} for name, path in modules.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYER_OF_PART[parts[1] if len(parts) > 1 else "__init__"]


def test_every_part_of_the_package_has_a_layer():
    unknown = {module.split(".")[1] for module in package_modules() if "." in module} - set(LAYER_OF_PART)
    assert not unknown, f"give these parts of the package a layer in LAYER_OF_PART: {sorted(unknown)}"


def test_no_import_against_the_data_flow():
    against = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if layer(target) > layer(module)
    )
    assert not against, "imports against the data flow:\n" + "\n".join(against)


def test_no_import_cycle():
    graph = import_graph()
    cycles: list[list[str]] = []
    state: dict[str, str] = {}  # "active" while on the current path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "active"
        for target in sorted(graph[module]):
            if state.get(target) == "active":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_checker_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("def later():\n    from store_anomaly.definitions import defs\n")
    assert imported_modules(source, package_modules()) == {"store_anomaly.definitions"}


def test_environment_variables_are_named_only_in_settings():
    elsewhere = sorted(
        f"{name}: {node.value}"
        for name, path in package_modules().items()
        if name != "store_anomaly.settings"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"STORE_ANOMALY_\w+", node.value)
    )
    assert not elsewhere, "name these variables in store_anomaly/settings.py:\n" + "\n".join(elsewhere)
