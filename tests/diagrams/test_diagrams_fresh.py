"""The committed ``diagrams/`` and ``docs/spec.md`` match the spec they were drawn from.

Each test regenerates into a temporary folder and compares bytes with the committed file, so a
spec change without `cxpay-conformance diagrams` and `cxpay-conformance docs` fails here, with
the command to run. SVGs are compared only where Graphviz's ``dot`` exists, and only when it is
the version that drew the committed ones (another version draws the same DOT differently).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cxpay_conformance.diagrams import find_dot, render_diagrams
from cxpay_conformance.diagrams._graphviz import generator_of
from cxpay_conformance.spec import Spec
from cxpay_conformance.specdoc import render_spec_doc
from tests.diagrams.diagram_text import COMMITTED_DIAGRAMS, COMMITTED_SPEC_DOC

REGENERATE = "regenerate with `cxpay-conformance diagrams` and commit diagrams/"


def _fresh(spec: Spec, tmp_path: Path) -> list[Path]:
    return list(render_diagrams(spec, tmp_path).paths)


def test_the_committed_dot_and_mermaid_files_are_current(spec: Spec, tmp_path: Path) -> None:
    fresh = [p for p in _fresh(spec, tmp_path) if p.suffix != ".svg"]
    assert {p.name for p in fresh} == {"checkout_session.dot", "payment_intent.dot",
                                       "charge.dot", "overview.dot", "diagrams.md"}
    stale = [p.name for p in fresh
             if not (COMMITTED_DIAGRAMS / p.name).is_file()
             or (COMMITTED_DIAGRAMS / p.name).read_bytes() != p.read_bytes()]
    assert not stale, f"stale or missing in diagrams/: {stale}; {REGENERATE}"


def test_the_committed_svgs_are_current(spec: Spec, tmp_path: Path) -> None:
    if find_dot() is None:
        pytest.skip("Graphviz `dot` is not installed, so the SVGs cannot be re-rendered "
                    "(apt-get install graphviz / brew install graphviz)")
    fresh = [p for p in _fresh(spec, tmp_path) if p.suffix == ".svg"]
    assert len(fresh) == 4
    committed = {p.name: COMMITTED_DIAGRAMS / p.name for p in fresh}
    missing = [name for name, path in committed.items() if not path.is_file()]
    assert not missing, f"missing in diagrams/: {missing}; {REGENERATE}"
    ours = generator_of(fresh[0].read_bytes())
    theirs = {generator_of(path.read_bytes()) for path in committed.values()}
    if theirs != {ours}:
        pytest.skip(f"the committed SVGs were drawn by {sorted(map(str, theirs))}, this machine "
                    f"has {ours}; another Graphviz version draws differently")
    stale = [p.name for p in fresh if committed[p.name].read_bytes() != p.read_bytes()]
    assert not stale, f"stale SVGs in diagrams/: {stale}; {REGENERATE}"


def test_the_committed_spec_doc_is_current(spec: Spec) -> None:
    assert COMMITTED_SPEC_DOC.is_file(), "docs/spec.md is missing; run `cxpay-conformance docs`"
    assert COMMITTED_SPEC_DOC.read_text(encoding="utf-8") == render_spec_doc(spec), (
        "docs/spec.md is stale; regenerate with `cxpay-conformance docs` and commit it")


def test_rendering_twice_gives_the_same_bytes(spec: Spec, tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in _fresh(spec, tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in _fresh(spec, tmp_path / "b")}
    assert first == second
    assert render_spec_doc(spec) == render_spec_doc(spec)
