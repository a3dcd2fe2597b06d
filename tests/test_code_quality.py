"""The code keeps the promises ARCHITECTURE.md and STYLE.md make: the layers import only
what the rule allows, the server never reads the spec, and ruff and mypy are clean."""

from __future__ import annotations

import ast
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
