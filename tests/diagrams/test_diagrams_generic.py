"""The diagram and spec-document code is generic: no name from the spec appears in it, and it
imports nothing of ours but ``spec`` and ``errors`` (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from cxpay_conformance.spec import Spec
from tests.diagrams.diagram_text import ROOT

PACKAGE = ROOT / "cxpay_conformance"
# Python 3.12 splits f-strings into parts; 3.11 has one STRING token for them.
STRING_TOKENS = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
SOURCES = [*sorted((PACKAGE / "diagrams").glob("*.py")), PACKAGE / "specdoc.py"]


def spec_names(spec: Spec) -> set[str]:
    names = set(spec.objects) | set(spec.events)
    names |= {state for obj in spec.objects.values() for state in obj.states}
    names |= {t.event for t in spec.transitions}
    return names


def words_in_code(path: Path) -> set[str]:
    """Every identifier, and every word of every string (docstrings too); not comments."""
    words: set[str] = set()
    for token in tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline):
        if token.type == tokenize.NAME:
            words.add(token.string)
        elif token.type in STRING_TOKENS:
            words.update(re.findall(r"[a-z][a-z0-9_]*", token.string))
    return words


def test_the_sources_exist() -> None:
    assert len(SOURCES) >= 8
    assert all(path.is_file() for path in SOURCES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_state_event_or_object_name_of_the_spec_appears_in_the_code(
    spec: Spec, path: Path
) -> None:
    found = spec_names(spec) & words_in_code(path)
    assert not found, f"{path.name} names {sorted(found)}; read them from the spec instead"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_imports_only_spec_and_errors(path: Path) -> None:
    tree = ast.parse(path.read_text("utf-8"))
    ours = {node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            and node.module.startswith("cxpay_conformance")}
    ours |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names if alias.name.startswith("cxpay_conformance")}
    allowed: tuple[str, ...] = ("cxpay_conformance.spec", "cxpay_conformance.errors")
    if path.parent.name == "diagrams":
        allowed += ("cxpay_conformance.diagrams",)
    assert all(module.startswith(allowed) for module in ours), sorted(ours)
