"""The HTML report: one self-contained page a person opens from a CI artifact (``index.html``).

:func:`render_html` fills ``templates/report.html.j2`` with Jinja2 (autoescape on) from the same
:class:`~.runner.SuiteResult` that ``report.json`` comes from, and that JSON itself, inlined:
the verdict and how the run was made (with the command that replays it), the checks, coverage
(each object's overlay diagram inline with each transition's count, the event x state table of
rejections), and on failure the shrunk story as a timeline with a lane per actor and the
webhooks as they arrived, each step expandable to its request and answer, the failing step
highlighted and the story's path drawn over the diagrams; a failing concurrent history shows
its requests sent at once side by side, one column per branch. No network and no script: CSS,
SVG and data are inline, and ``<details>`` opens a step. :func:`~.report.html` is the call.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2

from cxpay_conformance.diagrams import INSTALL_HINT, coverage_svgs, transition_class
from cxpay_conformance.spec.types import ACTORS, Spec
from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.checks import CHECKS
from cxpay_conformance.suite.context import Step
from cxpay_conformance.suite.race_story import at_once, concurrent, prefix_steps, step_text
from cxpay_conformance.suite.receiver import Delivery
from cxpay_conformance.suite.repro_text import said
from cxpay_conformance.suite.runner import SuiteResult

TEMPLATE = "report.html.j2"
#: The lanes of the story's timeline: one per actor of the spec format, the suite's own checks
#: (quiescence, probes of another kind), and the webhooks as the suite's receiver got them.
SUITE_LANE, WEBHOOK_LANE = "suite", "webhooks"
LANES = (*ACTORS, SUITE_LANE, WEBHOOK_LANE)

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("cxpay_conformance.suite", "templates"),
    autoescape=True,  # every value is escaped, .html.j2 or not; only our own SVG is marked safe
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_SVG_PROLOGUE = re.compile(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", re.DOTALL)
_NODE = re.compile(r'<g id="(node\d+)" class="node">\s*<title>([^<]*)</title>')


@dataclass(frozen=True)
class Entry:
    """One row of the story's timeline: a step in its actor's lane, or a webhook received."""

    lane: str
    number: int | None
    title: str
    offset: str
    expected: str = ""
    observed: str = ""
    request: str = ""
    request_body: str = ""
    answer: str = ""
    fired: tuple[str, ...] = ()
    failing: bool = False
    problem: bool = False


@dataclass(frozen=True)
class Cell:
    """A cell of the event x state table: allowed (a transition), or a rejection tested or not."""

    kind: str  # "allowed", "tested" or "untested"
    text: str


@dataclass(frozen=True)
class ObjectView:
    """An object type's coverage: counts, the overlay diagram, the transitions, the rejections."""

    name: str
    states: str
    transitions: str
    svg: str
    edges: list[dict[str, Any]]
    states_header: list[str]
    rejections: list[tuple[str, list[Cell]]]


@dataclass(frozen=True)
class Branch:
    """A request of a failing concurrent history, in its branch's column."""

    number: int | None
    branch: int
    lane: str
    title: str
    times: str
    answer: str
    request: str
    request_body: str
    answer_body: str
    failing: bool


@dataclass
class Page:
    """Everything the template shows, as plain values."""

    conformant: bool
    header: dict[str, Any]
    checks: list[dict[str, Any]]
    objects: list[ObjectView]
    overview: str
    diagrams_note: str
    rejections: str
    failure: dict[str, Any] | None
    lanes: list[str] = field(default_factory=list)
    timeline: list[Entry] = field(default_factory=list)
    branch_count: int = 0
    branches: list[list[Branch | None]] = field(default_factory=list)
    path_svgs: list[tuple[str, str]] = field(default_factory=list)
    path_classes: list[str] = field(default_factory=list)
    failing_classes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def render_html(result: SuiteResult, data: dict[str, Any]) -> str:
    """The HTML page of ``result``; ``data`` is its ``report.json`` (:func:`~.report.as_json`),
    which the page shows from and carries inline (``<script type="application/json">``).

    >>> page = render_html(result, as_json(result))
    >>> "NOT CONFORMANT" in page
    True
    """
    return _ENVIRONMENT.get_template(TEMPLATE).render(page=_page(result, data))


def _page(result: SuiteResult, data: dict[str, Any]) -> Page:
    spec, coverage = result.spec, result.coverage
    svgs = coverage_svgs(spec, dict(coverage.transitions), edge_hits=dict(coverage.edges))
    tested, total = coverage.rejection_pairs()
    page = Page(
        conformant=result.conformant,
        header=_header(result, data, svgs),
        checks=_checks(result),
        objects=[_object(result, name, svgs.get(name, "")) for name in spec.objects],
        overview=_inline(svgs.get("overview", ""), "overview"),
        diagrams_note="" if svgs else INSTALL_HINT,
        rejections=f"{tested}/{total}",
        failure=None,
        data=data,
    )
    if result.failure is not None:
        _failure(result, page, svgs)
    return page


def _header(result: SuiteResult, data: dict[str, Any], svgs: dict[str, str]) -> dict[str, Any]:
    config, spec = result.config, result.spec
    tools = [("cxpay-conformance", _version("cxpay-conformance")), ("Python", platform.python_version()),
             ("Hypothesis", _version("hypothesis")), ("Jinja2", _version("jinja2"))]
    drawn = re.search(r"<!-- Generated by graphviz version (\S+)", next(iter(svgs.values()), ""))
    if drawn:
        tools.append(("Graphviz", drawn.group(1)))
    first = result.first_failure
    return {
        "verdict": "CONFORMANT" if result.conformant else "NOT CONFORMANT",
        "check": result.failure.check if result.failure is not None else "",
        "implementation": config.base_url or "",
        "embedded": config.embedded,
        "spec": f"{spec.title} {spec.version}",
        "spec_file": Path(spec.path).name,
        "spec_hash": _sha256(spec.path),
        "seed": result.seed,
        "profile": config.profile,
        "work": (f"{result.examples} examples, {result.steps} steps, "
                 + (f"{result.races} concurrent histories, " if result.races else "")
                 + f"{result.requests} requests"),
        "duration": f"{result.duration:.1f} s",
        "tools": tools,
        "replay": data["replay"],
        "first": "" if first is None else (
            f"first met ({first.check}) in "
            + (f"concurrent history {first.races + 1}" if first.check == "linearizability"
               else f"example {first.examples}")
            + f" after {first.seconds:.1f} s, then shrunk to the story below"),
        "flaky": result.flaky,
    }


def _checks(result: SuiteResult) -> list[dict[str, Any]]:
    rows = []
    for name, info in CHECKS.items():
        ran = result.checks_run.get(name, 0)
        failed = 1 if result.failure is not None and result.failure.check == name else 0
        rows.append({"name": name, "description": info.description, "ran": ran, "passed": max(0, ran - failed),
                     "failed": failed, "status": "failed" if failed else "passed" if ran else "not run"})
    return rows


def _object(result: SuiteResult, name: str, svg: str) -> ObjectView:
    spec, coverage = result.spec, result.coverage
    summary = next(c for c in coverage.per_object() if c.object == name)
    edges = [edge for edge in coverage.per_edge() if edge["object"] == name]
    states = list(spec.objects[name].states)
    rows = []
    for event in spec.events_of(name):
        if event.creates or event.due is not None:  # never rejected for its state
            continue
        cells = []
        for state in states:
            moves = [t for t in spec.transitions_of(event.name) if state in t.from_states]
            if moves:
                count = sum(coverage.edges[(t.index, state)] for t in moves)
                cells.append(Cell("allowed", " / ".join(f"\u2192 {t.to}" for t in moves) + f" \u00d7{count}"))
                continue
            rejection = spec.rejection_for(event.name, state)
            code = f"{rejection.status} {rejection.code}" if rejection else "rejected"
            hits = coverage.rejections[(event.name, state)]
            cells.append(Cell("tested", f"{code} \u00d7{hits}") if hits else Cell("untested", f"{code} untested"))
        rows.append((event.name, cells))
    return ObjectView(name, f"{summary.states_reached}/{summary.states_total}",
                      f"{summary.transitions_hit}/{summary.transitions_total}", _inline(svg, f"cov-{name}"),
                      edges, states, rows)


def _failure(result: SuiteResult, page: Page, svgs: dict[str, str]) -> None:
    failure = result.failure
    assert failure is not None
    racing = concurrent(result)
    steps = prefix_steps(result) if racing else list(result.story)
    failing = None if racing else (failure.step or (steps[-1].number if steps else None))
    page.failure = {"check": failure.check, "message": str(failure), "request": failure.request,
                    "response": failure.response, "racing": racing, "step": failing}
    page.timeline = _timeline(result.spec, steps, result.webhook_timeline, failing)
    used = {entry.lane for entry in page.timeline}
    page.lanes = [lane for lane in LANES if lane in ACTORS or lane in used or lane == WEBHOOK_LANE]
    if racing:
        rows = at_once(result)
        page.branch_count = max(branch for _i, _s, branch, _a, _b in rows) + 1
        for index, step, branch, sent, answered in rows:
            row: list[Branch | None] = [None] * page.branch_count
            exchange = result.exchanges[index]
            number = step.number if step else None
            times = f"sent {sent * 1000:.0f} ms, answered {answered * 1000:.0f} ms"
            row[branch] = Branch(number, branch + 1, _lane(step.actor) if step else SUITE_LANE, step_text(step),
                                 times, said(exchange), *_request(exchange),
                                 _pretty(exchange.answer), number is not None and number == failure.step)
            page.branches.append(row)
    # The story's path over the diagrams: every transition it fired, the failing step's apart.
    path: list[str] = []
    failing_classes: list[str] = []
    touched: list[str] = []
    for step in steps:
        for index, source in step.fired:
            transition = result.spec.transitions[index]
            classes = [transition_class(index)]
            if len(transition.from_states) > 1 and source is not None:
                classes.append(transition_class(index, source))
            (failing_classes if step.number == failing else path).extend(classes)
            touched.append(transition.object)
        if step.rejected_in is not None and step.number == failing:
            obj, state = step.rejected_in
            failing_classes.append(_node_class(state))
            touched.append(obj)
    page.path_classes, page.failing_classes = sorted(set(path)), sorted(set(failing_classes))
    page.path_svgs = [(name, _inline(svgs[name], f"path-{name}")) for name in dict.fromkeys(touched)
                      if name in svgs]


def _timeline(spec: Spec, steps: list[Step], deliveries: list[Delivery], failing: int | None) -> list[Entry]:
    """The steps in their actors' lanes and the webhooks where they arrived between them."""
    start = min([s.began for s in steps] + [d.received_at for d in deliveries], default=0.0)
    entries: list[tuple[float, int, Entry]] = []
    for order, step in enumerate(steps):
        exchange = step.exchange
        request, body = _request(exchange) if exchange is not None else ("", "")
        fired = tuple(_fired(spec, index, source) for index, source in step.fired)
        entries.append((step.began, order, Entry(
            _lane(step.actor), step.number, step.story, f"+{step.began - start:.3f} s", step.expected,
            step.observed, request, body, _answer(exchange) if exchange is not None else "", fired,
            failing=step.number == failing)))
    for order, delivery in enumerate(deliveries):
        verdict = "signature ok" if delivery.signature_ok else f"REFUSED: {delivery.problem}"
        entries.append((delivery.received_at, len(steps) + order, Entry(
            WEBHOOK_LANE, None, f"{delivery.type} {delivery.object_id or ''}".strip(),
            f"+{delivery.received_at - start:.3f} s", observed=f"{delivery.event_id} ({verdict})",
            answer=_pretty(delivery.event), problem=not delivery.signature_ok)))
    return [entry for _at, _order, entry in sorted(entries, key=lambda e: (e[0], e[1]))]


def _lane(actor: str) -> str:
    if actor in ACTORS:
        return actor
    return next((lane for lane in ACTORS if actor.endswith(lane)), SUITE_LANE)  # "second merchant"


def _fired(spec: Spec, index: int, source: str | None) -> str:
    transition = spec.transitions[index]
    return f"{transition.object}: {source or 'new'} \u2192 {transition.to} ({transition.label()})"


def _request(exchange: Exchange) -> tuple[str, str]:
    key = "" if exchange.key_label == "default" else f" (key: {exchange.key_label})"
    idempotency = exchange.headers.get("Idempotency-Key")
    keyed = f" Idempotency-Key: {idempotency}" if idempotency else ""
    return f"{exchange.method} {exchange.path}{key}{keyed}", _pretty(exchange.body) if exchange.body is not None else ""


def _answer(exchange: Exchange) -> str:
    return f"{exchange.status}\n{_pretty(exchange.answer)}"


def _pretty(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    try:
        return json.dumps(value, indent=2, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def _inline(svg: str, prefix: str) -> str:
    """Graphviz's SVG ready to sit in a page beside others: no prologue, ids made unique by
    ``prefix``, each node's class naming its state (``cx-n-<state>``)."""
    if not svg:
        return ""
    svg = _SVG_PROLOGUE.sub("", svg).strip()
    svg = _NODE.sub(lambda m: f'<g id="{m.group(1)}" class="node {_node_class(m.group(2))}">'
                              f"<title>{m.group(2)}</title>", svg)
    return re.sub(r'\bid="', f'id="{prefix}-', svg)


def _node_class(state: str) -> str:
    return "cx-n-" + re.sub(r"[^A-Za-z0-9_-]", "_", state)


def _sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unknown (the spec file could not be read)"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
