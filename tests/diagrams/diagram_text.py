"""Read back what the diagram writers produce: DOT statements and Mermaid transitions.

The parsers are small and strict on purpose: they read the statement-per-line DOT the
``graphviz`` package writes and the Mermaid our writer emits, and raise on anything else, so
that a change of format shows up as a test failure rather than as silently empty results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REAL_SPEC = ROOT / "spec" / "cxpay.yaml"
REAL_OPENAPI = ROOT / "spec" / "openapi.yaml"
COMMITTED_DIAGRAMS = ROOT / "diagrams"
COMMITTED_SPEC_DOC = ROOT / "docs" / "spec.md"


@dataclass(frozen=True)
class DotEdge:
    tail: str
    head: str
    attrs: dict[str, str]

    @property
    def label(self) -> str:
        """The label with DOT's ``\\n`` line breaks read as spaces."""
        return self.attrs.get("label", "").replace("\\n", " ")


@dataclass
class DotGraph:
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: list[DotEdge] = field(default_factory=list)

    def edges_into(self, head: str) -> list[DotEdge]:
        return [e for e in self.edges if e.head == head]

    def sources(self, edge: DotEdge) -> set[str]:
        """The states an arrow leaves: its tail, or the tails feeding its junction dot."""
        if "J_" in edge.tail:
            return {e.tail for e in self.edges_into(edge.tail)}
        return {edge.tail}

    def labelled(self, label: str) -> list[DotEdge]:
        return [e for e in self.edges if e.label == label]


_ID = r'"(?:[^"\\]|\\.)*"|[A-Za-z_][\w.]*'
_STATEMENT = re.compile(rf"^(?P<a>{_ID})(?:\s*->\s*(?P<b>{_ID}))?\s*(?:\[(?P<attrs>.*)\])?$")


def parse_dot(text: str) -> DotGraph:
    graph = DotGraph()
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("//") or line.endswith("{") or line == "}":
            continue
        if re.match(r"^(node|edge|graph)\s*\[", line) or re.match(r"^\w+=", line):
            continue  # default attributes, or graph/cluster attributes
        match = _STATEMENT.match(line)
        if match is None:
            raise AssertionError(f"unexpected DOT statement: {line!r}")
        attrs = parse_attrs(match["attrs"] or "")
        a, b = _unquote(match["a"]), match["b"]
        if b is None:
            # A node named again (in a `rank=same` group) keeps the attributes it was given.
            graph.nodes.setdefault(a, {}).update(attrs)
        else:
            graph.edges.append(DotEdge(a, _unquote(b), attrs))
    return graph


def parse_attrs(text: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        eq = text.index("=", i)
        key = text[i:eq]
        i = eq + 1
        if text[i] == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            attrs[key] = text[i + 1:j].replace('\\"', '"')
            i = j + 1
        elif text[i] == "<":
            depth, j = 0, i
            while True:
                depth += {"<": 1, ">": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            attrs[key] = text[i:j]
            i = j
        else:
            j = i
            while j < len(text) and not text[j].isspace():
                j += 1
            attrs[key] = text[i:j]
            i = j
    return attrs


def _unquote(token: str) -> str:
    return token[1:-1].replace('\\"', '"') if token.startswith('"') else token


@dataclass(frozen=True)
class MermaidArrow:
    source: str  # a state name, or "[*]"
    target: str  # a state name, or "[*]"
    label: str


def mermaid_blocks(markdown: str) -> dict[str, str]:
    """The Mermaid diagram under each ``## <heading>`` of a Markdown document."""
    blocks: dict[str, str] = {}
    heading, inside = "", False
    lines: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif line == "```mermaid":
            inside, lines = True, []
        elif line == "```" and inside:
            assert heading not in blocks, f"two diagrams under {heading!r}"
            blocks[heading] = "\n".join(lines) + "\n"
            inside = False
        elif inside:
            lines.append(line)
    assert not inside, "a Mermaid block is not closed"
    return blocks


def mermaid_arrows(diagram: str) -> list[MermaidArrow]:
    lines = [line.strip() for line in diagram.splitlines()]
    assert lines[0] == "stateDiagram-v2", lines[0]
    names = {m[2]: m[1] for line in lines if (m := re.match(r'^state "(.+)" as (\S+)$', line))}
    arrows = []
    for line in lines:
        match = re.match(r"^(\S+) --> (\S+)(?: : (.*))?$", line)
        if match:
            source, target = (names.get(t, t) for t in (match[1], match[2]))
            assert source in names.values() or source == "[*]", line
            assert target in names.values() or target == "[*]", line
            arrows.append(MermaidArrow(source, target, match[3] or ""))
    return arrows


def mermaid_classes(diagram: str) -> dict[str, set[str]]:
    """The states (by name) in each Mermaid class."""
    names = {m[2]: m[1] for m in re.finditer(r'^\s*state "(.+)" as (\S+)$', diagram, re.M)}
    classes: dict[str, set[str]] = {}
    for match in re.finditer(r"^\s*class (\S+) (\w+)$", diagram, re.M):
        classes[match[2]] = {names[i] for i in match[1].split(",")}
    return classes
