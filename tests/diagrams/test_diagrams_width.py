"""The diagrams read at README width (issue 9: the overview was 3177 pt wide, its labels
unreadable when a page scales it to 1000 px), and the overview still shows every
cross-object effect of the spec as an arrow that Graphviz draws."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from cxpay_conformance.diagrams import coverage_texts, diagram_texts, find_dot
from cxpay_conformance.diagrams._graphviz import render_svg
from cxpay_conformance.spec import Spec, load_spec
from cxpay_conformance.spec.paths import follow
from tests.diagrams.diagram_text import parse_dot
from tests.spec_variants import write_refund_spec

pytestmark = pytest.mark.skipif(find_dot() is None, reason="Graphviz `dot` is not installed")

#: At 1100 pt (1467 px at 96 dpi) scaled to 1000 px, a 10 pt label is still 9 px high.
MAX_WIDTH_PT = 1100


def svg_width_pt(svg: bytes) -> float:
    found = re.search(rb'<svg width="([\d.]+)pt"', svg)
    assert found, svg[:300]
    return float(found[1])


def rendered(texts: dict[str, str]) -> dict[str, bytes]:
    return {name: render_svg(str(find_dot()), text, name)
            for name, text in texts.items() if name.endswith(".dot")}


def test_every_diagram_reads_at_1000_px(spec: Spec, extended_spec: Spec, tmp_path: Path) -> None:
    refund = load_spec(write_refund_spec(tmp_path))
    too_wide = []
    for which, texts in [("plain", diagram_texts(spec)),
                         ("coverage", coverage_texts(spec, {t.index: 12 for t in spec.transitions})),
                         ("extended", diagram_texts(extended_spec)),
                         ("refund", diagram_texts(refund))]:
        widths = {name: svg_width_pt(svg) for name, svg in rendered(texts).items()}
        assert len(widths) == len(spec.objects) + 1
        too_wide += [f"{which} {name}: {width:.0f} pt" for name, width in widths.items()
                     if width > MAX_WIDTH_PT]
    assert not too_wide, f"wider than {MAX_WIDTH_PT} pt: {too_wide}"


def test_every_cross_object_effect_is_drawn_in_the_overview(spec: Spec) -> None:
    text = diagram_texts(spec)["overview.dot"]
    graph = parse_dot(text)
    svg = rendered({"overview.dot": text})["overview.dot"].decode("utf-8")
    drawn = {html.unescape(title) for title in re.findall(r"<title>([^<]*)</title>", svg)}
    effects = [(t, e) for t in spec.transitions for e in t.effects]
    assert len(effects) >= 10
    for transition, effect in effects:
        target = follow(spec, transition.object, effect.path).object.name
        cause = f"{transition.object}.J_t{transition.index}"
        arrows = [e for e in graph.edges if e.tail == cause and e.head.startswith(f"{target}.")
                  and f"<b>{effect.state}</b>" in graph.nodes[e.head]["label"]
                  and e.attrs.get("style") == "dashed"]
        assert len(arrows) == 1, f"{transition.label()} -> {target}.{effect.state}: {arrows}"
        assert f"{cause}->{arrows[0].head}" in drawn, arrows[0]
        assert transition.label() in graph.nodes[f"EVENTS_t{transition.index}"]["label"].replace("\\n", " ")
