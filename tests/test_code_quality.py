"""The code keeps the promises ARCHITECTURE.md and STYLE.md make: the layers import only
what the rule allows, the server never reads the spec, and ruff and mypy are clean."""

from __future__ import annotations

import ast
import graphlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cxpay_conformance"

#: layer -> the packages of ours it may import (ARCHITECTURE.md's table).
ALLOWED = {
    "errors": set(),
    "spec": {"errors", "spec"},
    "model": {"errors", "spec", "model"},
    "lint": {"errors", "spec", "model", "lint"},
    "diagrams": {"errors", "spec", "diagrams"},
    "specdoc": {"errors", "spec", "diagrams"},
    "suite": {"errors", "spec", "model", "diagrams", "suite"},
    "trace": {"errors", "spec", "model", "suite", "trace"},
    "_pytest_traces": {"errors", "trace"},
    "server": {"server"},
}


def _layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "cxpay_conformance" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_the_architecture_allows(layer: str) -> None:
    files = [p for p in PACKAGE.rglob("*.py") if _layer(p) == layer]
    assert files, f"no files found for layer {layer}"
    broken = {
        str(p.relative_to(ROOT)): sorted(_imports_of(p) - ALLOWED[layer])
        for p in files
        if _imports_of(p) - ALLOWED[layer]
    }
    assert not broken, f"layer {layer} imports what ARCHITECTURE.md forbids: {broken}"


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_imports_itself_through_others() -> None:
    """No circle of imports, not even one only a type checker follows (``TYPE_CHECKING``) or
    one inside a function: a circle means two ideas that cannot be read apart."""
    modules = {_module_of(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from package import module`` imports that module; ``from module import name``, the module.
                imported.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                                else node.module for alias in node.names)
        graph[name] = {other for other in imported if other in modules and other != name}
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as circle:
        pytest.fail("modules import each other in a circle: " + " -> ".join(circle.args[1]))


#: The generated machine's files, lowest first (ARCHITECTURE.md): each imports only lower rows.
MACHINE_LAYERS = (("context",), ("foreign",), ("machine",), ("draws",), ("probes", "teardown"), ("rules",))


def test_the_machine_s_files_import_only_the_layers_below_them() -> None:
    row = {name: index for index, names in enumerate(MACHINE_LAYERS) for name in names}
    upward = {
        f"suite/{name}.py imports suite/{other}.py": (index, row[other])
        for name, index in row.items()
        for other in _suite_imports(PACKAGE / "suite" / f"{name}.py")
        if other in row and row[other] >= index
    }
    assert not upward, f"the machine's layers import upwards or sideways (see ARCHITECTURE.md): {upward}"


def _suite_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "cxpay_conformance.suite":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cxpay_conformance.suite."):
            found.add((node.module or "").split(".")[2])
    return found


def test_the_server_never_mentions_the_spec_files() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (PACKAGE / "server").rglob("*.py")
        if "cxpay.yaml" in p.read_text(encoding="utf-8") or "_bundled_spec" in p.read_text(encoding="utf-8")
    ]
    assert not offenders, f"the reference server must not read the spec: {offenders}"


def test_ruff_is_clean() -> None:
    pytest.importorskip("ruff")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


#: Hypothesis's private modules and names that the suite uses: only suite/_compat.py may say them.
_HYPOTHESIS_PRIVATE = re.compile(r"hypothesis\.internal|\._internal\b|_rules_strategy|enabled_rules_strategy|"
                                 r"_get_local_constants|MAX_SHRINKING_SECONDS|_setup_state_per_class|_setup_for\b|"
                                 r"_to_test_case|_per_class\b")


def test_only_the_compat_module_touches_hypothesis_internals() -> None:
    """STYLE.md habit 10: another library's internals in one place, with a fallback each."""
    compat = PACKAGE / "suite" / "_compat.py"
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py"), ROOT / "_cxpay_pytestplugin.py"]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in sources if p != compat
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if _HYPOTHESIS_PRIVATE.search(line)]
    assert not offenders, f"Hypothesis internals outside cxpay_conformance/suite/_compat.py: {offenders}"
    assert _HYPOTHESIS_PRIVATE.search(compat.read_text(encoding="utf-8"))  # the pattern still finds them
