"""State diagrams drawn from the spec: DOT, SVG and Mermaid, and coverage overlays.

Everything here is generated from a loaded :class:`~cxpay_conformance.spec.Spec`; no state
or event name appears in the code, so a state added to ``cxpay.yaml`` shows up in the next
render. :func:`render_diagrams` writes one diagram per object type (``<object>.dot`` and
``.svg``, drawn top to bottom), an ``overview`` of how the object types move each other (a
row per transition with cross-object effects, a column per object type; every diagram is at
most about 1000 pt wide, so that it reads at page width), and
``diagrams.md`` with a Mermaid diagram per object type that GitHub renders.
:func:`render_coverage` draws the same diagrams with each transition's hit count, never-fired
transitions red and dashed. SVGs need Graphviz's ``dot`` program; without it the DOT and
Markdown files are still written and the result's ``note`` says how to install Graphviz.
Imports ``spec`` and ``errors`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cxpay_conformance.diagrams._graphviz import INSTALL_HINT, find_dot, render_svg
from cxpay_conformance.diagrams._outputs import (
    COVERAGE_MD,
    DIAGRAMS_MD,
    OVERVIEW,
    Staleness,
    Written,
    coverage_texts,
    diagram_texts,
    stale_outputs,
    write_outputs,
)
from cxpay_conformance.diagrams._style import ACTOR_STYLES, ActorStyle, transition_class
from cxpay_conformance.spec.types import Spec


def render_diagrams(spec: Spec, out_dir: str | Path) -> Written:
    """Write the state diagrams of ``spec`` into ``out_dir``; return what was written.

    >>> written = render_diagrams(load_spec(), "diagrams")
    >>> [p.name for p in written.paths][-1]
    'diagrams.md'
    >>> written.note            # "" when Graphviz drew the SVGs, else how to install it
    ''
    """
    return write_outputs(diagram_texts(spec), Path(out_dir))


def check_diagrams(spec: Spec, out_dir: str | Path) -> Staleness:
    """Which files in ``out_dir`` :func:`render_diagrams` would change. Writes nothing.

    >>> check_diagrams(load_spec(), "diagrams").fresh
    True
    """
    return stale_outputs(diagram_texts(spec), Path(out_dir))


def render_coverage(spec: Spec, hits: Mapping[int, int], out_dir: str | Path, *,
                    edge_hits: Mapping[tuple[int, str | None], int] | None = None) -> list[Path]:
    """Draw the diagrams with how often the suite fired each transition; return the files.

    ``hits`` maps :attr:`Transition.index <cxpay_conformance.spec.Transition.index>` to a
    count; a transition it leaves out never fired. Each arrow's label ends in its count and is
    widened by it; a never-fired transition is red and dashed, and a state no fired arrow
    leads into is filled red. Writes ``<object>.dot/.svg``, ``overview.dot/.svg`` and
    ``coverage.md`` (SVGs only when Graphviz's ``dot`` is installed).

    ``edge_hits`` maps (transition index, the state it left) to a count: where a transition
    leaves several states, each state's segment into its junction dot then shows its own count
    (:attr:`Coverage.edges <cxpay_conformance.suite.coverage.Coverage.edges>` gives them).

    >>> paths = render_coverage(spec, {0: 12, 1: 3}, "reports/coverage")
    >>> paths[-1].name
    'coverage.md'

    Raises :class:`~cxpay_conformance.errors.UsageError` for a count of a transition the
    spec does not have, or a negative count.
    """
    return list(write_outputs(coverage_texts(spec, hits, edge_hits), Path(out_dir)).paths)


def coverage_svgs(spec: Spec, hits: Mapping[int, int], *,
                  edge_hits: Mapping[tuple[int, str | None], int] | None = None) -> dict[str, str]:
    """The SVGs :func:`render_coverage` would write, in memory: diagram name (each object type's,
    then ``overview``) -> SVG text; {} when Graphviz's ``dot`` is not installed. Each arrow's SVG
    element has the class :func:`~._style.transition_class` names, so that a page can draw a path
    over it.

    >>> list(coverage_svgs(spec, {0: 12})) == [*spec.objects, "overview"]
    True
    """
    dot = find_dot()
    if dot is None:
        return {}
    return {name.removesuffix(".dot"): render_svg(dot, text, name).decode("utf-8")
            for name, text in coverage_texts(spec, hits, edge_hits).items() if name.endswith(".dot")}


__all__ = [
    "ACTOR_STYLES",
    "COVERAGE_MD",
    "DIAGRAMS_MD",
    "INSTALL_HINT",
    "OVERVIEW",
    "ActorStyle",
    "Staleness",
    "Written",
    "check_diagrams",
    "coverage_svgs",
    "coverage_texts",
    "diagram_texts",
    "find_dot",
    "render_coverage",
    "render_diagrams",
    "transition_class",
]
