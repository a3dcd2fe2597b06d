"""The coverage overlay: each arrow carries its transition's hit count; never-fired transitions
are red and dashed, in DOT and in coverage.md, so untested paths show at a glance."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxpay_conformance.diagrams import coverage_texts, find_dot, render_coverage
from cxpay_conformance.errors import UsageError
from cxpay_conformance.spec import Spec, Transition
from tests.diagrams.diagram_text import DotEdge, mermaid_arrows, mermaid_blocks, parse_dot

RED = "#dc2626"


def own_arrow(texts: dict[str, str], transition: Transition) -> DotEdge:
    graph = parse_dot(texts[f"{transition.object}.dot"])
    [arrow] = [e for e in graph.edges
               if e.head == transition.to and e.label.startswith(transition.label() + " \u00d7")]
    return arrow


def hits_for(spec: Spec) -> dict[int, int]:
    """Some transitions fired (different counts), the rest never: every third one is missed."""
    return {t.index: 1 + t.index * 7 for t in spec.transitions if t.index % 3 != 1}


def test_unhit_transitions_are_red_dashed_and_hit_ones_carry_their_count(spec: Spec) -> None:
    hits = hits_for(spec)
    texts = coverage_texts(spec, hits)
    for transition in spec.transitions:
        arrow = own_arrow(texts, transition)
        count = hits.get(transition.index, 0)
        if count == 0:
            assert arrow.label == f"{transition.label()} \u00d70 untested"
            assert arrow.attrs["color"] == RED and arrow.attrs["style"] == "dashed"
        else:
            assert arrow.label == f"{transition.label()} \u00d7{count}"
            assert arrow.attrs["color"] != RED and "style" not in arrow.attrs


def test_more_hits_make_a_wider_arrow(spec: Spec) -> None:
    first, second = spec.transitions[0], spec.transitions[2]
    texts = coverage_texts(spec, {first.index: 1, second.index: 40})
    narrow = float(own_arrow(texts, first).attrs["penwidth"])
    wide = float(own_arrow(texts, second).attrs["penwidth"])
    assert wide > narrow


def test_effect_arrows_in_the_overview_follow_their_transition(spec: Spec) -> None:
    [with_effects, *_] = [t for t in spec.transitions if t.effects]
    overview = parse_dot(coverage_texts(spec, {})["overview.dot"])
    junction = f"{with_effects.object}.J_t{with_effects.index}"
    event = overview.nodes[f"EVENTS_t{with_effects.index}"]
    effects = [e for e in overview.edges if e.tail == junction and e.attrs.get("arrowhead")]
    assert len(effects) == len(with_effects.effects)
    assert all(e.attrs["color"] == RED for e in effects)
    assert event["label"].endswith("\\n\u00d70 untested")

    overview = parse_dot(coverage_texts(spec, {with_effects.index: 5})["overview.dot"])
    event = overview.nodes[f"EVENTS_t{with_effects.index}"]
    effects = [e for e in overview.edges if e.tail == junction and e.attrs.get("arrowhead")]
    assert all(e.attrs["color"] != RED for e in effects)
    assert event["label"].endswith("\\n\u00d75")


def test_states_no_fired_arrow_leads_into_are_marked_never_entered(spec: Spec) -> None:
    creating = [t for t in spec.transitions if t.creates]
    texts = coverage_texts(spec, {t.index: 1 for t in creating})
    root = parse_dot(texts[f"{spec.root.name}.dot"])
    created = {t.to for t in creating}
    for state in spec.root.states:
        fill = root.nodes[state].get("fillcolor")
        assert (fill == "#fee2e2") == (state not in created), state
    assert "never entered" in root.nodes["LEGEND"]["label"]


def test_coverage_md_lists_never_fired_transitions_and_marks_their_arrows(spec: Spec) -> None:
    hits = hits_for(spec)
    markdown = coverage_texts(spec, hits)["coverage.md"]
    never = [t for t in spec.transitions if t.index not in hits]
    assert f"**{len(spec.transitions) - len(never)} of {len(spec.transitions)} transitions" \
        in markdown
    table = markdown.split("## Never fired", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "index" not in line]
    assert [int(row.split("|")[1]) for row in rows] == [t.index for t in never]
    blocks = mermaid_blocks(markdown)
    for transition in spec.transitions:
        labels = {a.label for a in mermaid_arrows(blocks[transition.object])
                  if a.target == transition.to and a.label.startswith(transition.label() + " ")}
        count = hits.get(transition.index, 0)
        suffix = f"\u00d7{count}" if count else "\u00d70 untested"
        assert labels == {f"{transition.label()} {suffix}"}, transition.label()


def test_full_coverage_says_so(spec: Spec) -> None:
    markdown = coverage_texts(spec, {t.index: 2 for t in spec.transitions})["coverage.md"]
    assert "Every transition fired at least once." in markdown
    assert "## Never fired" not in markdown
    assert "untested" not in markdown.split("**Legend.**", 1)[1].split("\n", 1)[1]


def test_render_coverage_writes_and_returns_the_files(spec: Spec, tmp_path: Path) -> None:
    paths = render_coverage(spec, {0: 3}, tmp_path / "coverage")
    names = [p.name for p in paths]
    expected = [f"{o}.dot" for o in spec.objects] + ["overview.dot", "coverage.md"]
    if find_dot() is not None:
        expected += [f"{o}.svg" for o in spec.objects] + ["overview.svg"]
    assert sorted(names) == sorted(expected)
    assert names[-1] == "coverage.md"
    assert all(p.is_file() and p.parent == tmp_path / "coverage" for p in paths)
    assert "untested" in (tmp_path / "coverage" / "charge.dot").read_text(encoding="utf-8")


def test_render_coverage_without_dot_writes_dot_and_markdown(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    paths = render_coverage(spec, {}, tmp_path)
    assert {p.suffix for p in paths} == {".dot", ".md"}


@pytest.mark.parametrize(("hits", "message"), [({999: 1}, "does not have"),
                                                ({0: -1}, "negative")])
def test_bad_hit_counts_are_refused(spec: Spec, hits: dict[int, int], message: str,
                                    tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=message):
        render_coverage(spec, hits, tmp_path)
    assert list(tmp_path.iterdir()) == []
