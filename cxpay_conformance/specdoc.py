"""``docs/spec.md``: the spec written out for people, generated from the loaded spec.

Every table (states, events, transitions, the expected answer of each event in each state,
webhook types, test cards, invariants, decisions) is read from a
:class:`~cxpay_conformance.spec.Spec`, in file order, so the document changes exactly when
``cxpay.yaml`` does and holds no state or event name of its own. The text is deterministic
(no dates, no machine paths) so that a test can compare it with the committed file.
Imports ``spec`` and ``errors`` only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from cxpay_conformance.errors import UsageError
from cxpay_conformance.spec.paths import follow
from cxpay_conformance.spec.types import Effect, Event, Link, Spec, Transition

COMMAND = "cxpay-conformance docs"
ANSWERS = "Expected answers: event \u00d7 state"
DEFAULT_PATH = Path("docs") / "spec.md"


def render_spec_doc(spec: Spec) -> str:
    """The Markdown text of the spec document.

    >>> text = render_spec_doc(load_spec())
    >>> text.splitlines()[0]
    '# CX Pay 1.0: the formal spec'
    """
    sections = [
        _header(spec),
        _objects(spec),
        _events(spec),
        _transitions(spec),
        _answers(spec),
        _webhooks(spec),
        _cards(spec),
        _rejections(spec),
        _invariants(spec),
        _decisions(spec),
    ]
    return "\n".join(sections).rstrip("\n") + "\n"


def write_spec_doc(spec: Spec, path: str | Path = DEFAULT_PATH) -> Path:
    """Write :func:`render_spec_doc` to ``path`` (its directory is created); return the path.

    >>> write_spec_doc(load_spec(), "docs/spec.md")
    PosixPath('docs/spec.md')
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render_spec_doc(spec).encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc}. Choose a writable path with --out.") \
            from None
    return target


def spec_doc_is_stale(spec: Spec, path: str | Path = DEFAULT_PATH) -> bool:
    """Whether ``path`` is missing or differs from what :func:`write_spec_doc` would write."""
    try:
        return Path(path).read_bytes() != render_spec_doc(spec).encode("utf-8")
    except OSError:
        return True


# --- sections ----------------------------------------------------------------------------


def _header(spec: Spec) -> str:
    contents = ["Objects", "Events", "Transitions", ANSWERS,
                "Webhook event types", "Test cards", "Rejections", "Invariants", "Decisions"]
    return "\n".join([
        f"# {spec.title} {spec.version}: the formal spec\n",
        f"_Generated from `{PurePath(spec.path).name}` by `{COMMAND}`; do not edit by hand: "
        "change the spec and regenerate._\n",
        "The objects, their states, the events that move them, what each event answers in "
        "each state, and the decisions taken where the product doc is vague. State diagrams: "
        "`cxpay-conformance diagrams`.\n",
        *(f"- [{title}](#{_anchor(title)})" for title in contents),
        "",
    ])


def _objects(spec: Spec) -> str:
    parts = ["## Objects\n"]
    for obj in spec.objects.values():
        parts += [f"### {obj.name}\n", f"{obj.description} Ids start with `{obj.prefix}`.\n"]
        if obj.links:
            parts.append(_table(["link", "object", "wire field", "relation"],
                                [[f"`{link.name}`", link.object, f"`{link.field}`",
                                  _relation(link)] for link in obj.links.values()]))
        rows = [[f"`{s.name}`", _marks(s.initial, s.terminal), s.description,
                 f"`{s.emits}`" if s.emits else "—"] for s in obj.states.values()]
        header = ["state", "initial / terminal", "description", "webhook emitted on entering"]
        parts.append(_table(header, rows))
    return "\n".join(parts)


def _events(spec: Spec) -> str:
    rows = [[f"`{e.name}`", e.actor, f"`{e.operation}`", _event_object(e), e.description]
            for e in spec.events.values()]
    parts = ["## Events\n", _table(["event", "actor", "operation", "object", "description"],
                                   rows)]
    timed = [e for e in spec.events.values() if e.due is not None]
    if timed:
        parts += ["Events of the clock fall due on their own when the test clock is advanced:\n",
                  _table(["event", "object", "due"],
                         [[f"`{e.name}`", e.object, _due(e)] for e in timed])]
    return "\n".join(parts)


def _transitions(spec: Spec) -> str:
    rows = [
        [str(t.index), t.object, f"`{t.event}`",
         ", ".join(f"`{s}`" for s in t.from_states) or "(created)",
         _guard(t) or "—", f"`{t.to}`", _fields(t.fields) or "—",
         "; ".join(_effect_words(spec, t, e) for e in t.effects) or "—"]
        for t in spec.transitions
    ]
    return "\n".join([
        "## Transitions\n",
        "An event moves an object from one of the *from* states to *to* when its guard holds, "
        "sets the listed fields and applies its effects to related objects. Where an event "
        "has no transition from an object's state, it is rejected (next section).\n",
        _table(["#", "object", "event", "from", "guard", "to", "sets", "effects"], rows),
    ])


def _answers(spec: Spec) -> str:
    parts = [
        f"## {ANSWERS}\n",
        "What each request event does to an object in each state: the state it moves to (with "
        "the guard that picks it), or the error it is rejected with. Events that create an "
        "object, and the clock's events, have no state to be rejected in.\n",
    ]
    for obj in spec.objects.values():
        events = [e for e in spec.events_of(obj.name) if not e.creates and e.actor != "clock"]
        if not events:
            continue
        header = ["state", *(f"`{e.name}`" for e in events)]
        rows = [[f"`{state}`", *(_answer(spec, e, state) for e in events)]
                for state in obj.states]
        parts += [f"### {obj.name}\n", _table(header, rows)]
        addressed = [e for e in events if e.addressed_to]
        parts += [f"`{e.name}` is addressed to a {e.addressed_to} and answers by the state of "
                  f"its {e.object}.\n" for e in addressed]
    return "\n".join(parts)


def _webhooks(spec: Spec) -> str:
    rows = [[f"`{s.emits}`", obj.name, f"`{s.name}`"]
            for obj in spec.objects.values() for s in obj.states.values() if s.emits]
    return "\n".join([
        "## Webhook event types\n",
        "Entering a state emits its event type, including the initial states, which an object "
        "enters when it is created.\n",
        _table(["event type", "object", "emitted on entering"], rows),
    ])


def _cards(spec: Spec) -> str:
    attributes = list(spec.cards.attributes)
    rows = [[f"`{card.number}`", card.description,
             *(f"`{card.attributes[a]}`" if card.attributes.get(a) else "—" for a in attributes)]
            for card in spec.cards.numbers.values()]
    values = _table(["attribute", "values"],
                    [[f"`{a}`", ", ".join(f"`{v}`" for v in vs)]
                     for a, vs in spec.cards.attributes.items()])
    return "\n".join([
        "## Test cards\n",
        f"The card travels in the `{spec.cards.parameter}` parameter; guards test its "
        "attributes as `card.<attribute>`.\n",
        _table(["number", "description", *attributes], rows),
        values,
    ])


def _rejections(spec: Spec) -> str:
    rows = [[f"`{r.name}`", str(r.status), f"`{r.type}`", f"`{r.code}`", r.description]
            for r in spec.rejections.values()]
    parts = ["## Rejections\n", _table(["name", "status", "type", "code", "description"], rows)]
    if spec.clock:
        parts += ["Clock constants:\n",
                  _table(["constant", "seconds"],
                         [[f"`{k}`", str(v)] for k, v in spec.clock.items()])]
    return "\n".join(parts)


def _invariants(spec: Spec) -> str:
    rows = [[f"`{i.name}`", i.description] for i in spec.invariants]
    return "\n".join(["## Invariants\n",
                      "What must hold of every payment after every step.\n",
                      _table(["name", "description"], rows)])


def _decisions(spec: Spec) -> str:
    parts = ["## Decisions\n",
             "Where the product doc is vague or silent, what the spec decided, and why.\n"]
    for d in spec.decisions:
        parts += [f"### {d.topic}\n", f"**The doc says:** {d.doc_says}\n",
                  f"**Decision:** {d.decision}\n", f"**Why:** {d.why}\n"]
    return "\n".join(parts)


# --- words -------------------------------------------------------------------------------


def _answer(spec: Spec, event: Event, state: str) -> str:
    moves = [t for t in spec.transitions_of(event.name) if state in t.from_states]
    if moves:
        return "<br>".join(f"→ `{t.to}`" + (f" if {_guard(t)}" if t.guard else "")
                           for t in moves)
    rejection = spec.rejection_for(event.name, state)
    if rejection is None:
        return "no rejection in the spec"
    return f"{rejection.status} {rejection.type}/{rejection.code}"


def _effect_words(spec: Spec, transition: Transition, effect: Effect) -> str:
    target = follow(spec, transition.object, effect.path).object.name
    path = f"`{effect.path}`" if effect.path else "itself"
    if effect.kind == "create":
        words = f"creates its {path} ({target}) in `{effect.state}`"
        if effect.copy:
            words += f", copying {', '.join(f'`{f}`' for f in effect.copy)}"
    else:
        condition = (f" if it is {' or '.join(f'`{s}`' for s in effect.from_states)}"
                     if effect.from_states else " whatever its state")
        words = f"moves its {path} ({target}) to `{effect.state}`{condition}"
    if effect.fields:
        words += f", setting {_fields(effect.fields)}"
    return words


def _guard(transition: Transition) -> str:
    return ", ".join(f"`{key}` = {' or '.join(f'`{v}`' for v in values)}"
                     for key, values in transition.guard.items())


def _fields(fields: Mapping[str, Any]) -> str:
    return ", ".join(f"`{name}` = `{_value(value)}`" for name, value in fields.items())


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and list(value) == ["sum"]:
        return " + ".join(_value(v) for v in value["sum"])
    return json.dumps(value, sort_keys=True)


def _relation(link: Link) -> str:
    words = {"owns_one": "owns one", "owns_many": "owns many, oldest first",
             "owner": "belongs to", "newest_of": f"the newest of `{link.of}`"}
    return words.get(link.kind, link.kind)


def _event_object(event: Event) -> str:
    if event.addressed_to:
        return f"{event.object} (addressed to {event.addressed_to})"
    return event.object


def _due(event: Event) -> str:
    due = event.due
    if due is None:
        return "—"
    if due.at_field:
        return f"when the clock reaches the object's `{due.at_field}`"
    return f"{due.after} seconds after the object entered its state"


def _marks(initial: bool, terminal: bool) -> str:
    return ", ".join(word for word, on in (("initial", initial), ("terminal", terminal)) if on)


def _anchor(title: str) -> str:
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
