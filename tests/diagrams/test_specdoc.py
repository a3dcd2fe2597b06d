"""docs/spec.md: every table is read from the spec, and the event-by-state table gives each
request event's answer in each state of its object."""

from __future__ import annotations

import re

from cxpay_conformance.spec import Spec
from cxpay_conformance.specdoc import render_spec_doc


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading of its level."""
    level = heading.split(" ", 1)[0]
    body = text.split(f"\n{heading}\n", 1)[1]
    return re.split(rf"\n{level} ", body, maxsplit=1)[0]


def table(text: str) -> list[list[str]]:
    """The rows (cells stripped) of the first Markdown table in ``text``, header first."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|---"):
            continue
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([c.strip() for c in cells])
        elif rows:
            break
    return rows


def test_the_header_says_it_is_generated_and_by_which_command(spec: Spec) -> None:
    lines = render_spec_doc(spec).splitlines()
    assert lines[0] == f"# {spec.title} {spec.version}: the formal spec"
    assert "Generated from `cxpay.yaml` by `cxpay-conformance docs`" in lines[2]


def test_each_object_has_a_state_table_with_marks_descriptions_and_webhooks(spec: Spec) -> None:
    doc = render_spec_doc(spec)
    for obj in spec.objects.values():
        part = section(doc, f"### {obj.name}")
        states = [t for t in re.split(r"\n\n", part) if t.startswith("| state |")]
        rows = table(states[0])
        assert rows[0] == ["state", "initial / terminal", "description",
                           "webhook emitted on entering"]
        assert [r[0] for r in rows[1:]] == [f"`{s}`" for s in obj.states]
        for row, state in zip(rows[1:], obj.states.values(), strict=True):
            assert ("initial" in row[1]) == state.initial
            assert ("terminal" in row[1]) == state.terminal
            assert row[2] == state.description
            assert row[3] == (f"`{state.emits}`" if state.emits else "—")


def test_the_events_and_transitions_tables_list_everything(spec: Spec) -> None:
    doc = render_spec_doc(spec)
    events = table(section(doc, "## Events"))
    assert [r[0] for r in events[1:]] == [f"`{e}`" for e in spec.events]
    assert [r[1] for r in events[1:]] == [e.actor for e in spec.events.values()]
    transitions = table(section(doc, "## Transitions"))
    assert transitions[0] == ["#", "object", "event", "from", "guard", "to", "sets", "effects"]
    assert len(transitions) == len(spec.transitions) + 1
    for row, transition in zip(transitions[1:], spec.transitions, strict=True):
        assert row[2] == f"`{transition.event}`" and row[5] == f"`{transition.to}`"
        assert (row[3] == "(created)") == transition.creates
        for effect in transition.effects:
            assert f"`{effect.state}`" in row[7]
            assert ("creates its" in row[7]) == any(e.kind == "create"
                                                     for e in transition.effects)


def test_the_event_by_state_table_gives_target_states_or_the_rejection(spec: Spec) -> None:
    doc = render_spec_doc(spec)
    answers = section(doc, "## Expected answers: event \u00d7 state")
    checked = 0
    for obj in spec.objects.values():
        events = [e for e in spec.events_of(obj.name) if not e.creates and e.actor != "clock"]
        rows = table(section(answers, f"### {obj.name}"))
        assert rows[0] == ["state", *(f"`{e.name}`" for e in events)]
        for row in rows[1:]:
            state = row[0].strip("`")
            for event, cell in zip(events, row[1:], strict=True):
                moves = [t for t in spec.transitions_of(event.name) if state in t.from_states]
                if moves:
                    assert cell.count("→") == len(moves)
                    for move in moves:
                        assert f"→ `{move.to}`" in cell
                else:
                    rejection = spec.rejection_for(event.name, state)
                    assert rejection is not None
                    assert cell == f"{rejection.status} {rejection.type}/{rejection.code}"
                checked += 1
    assert checked == sum(
        len(spec.objects[e.object].states) for e in spec.events.values()
        if not e.creates and e.actor != "clock"
    )
    assert "409 invalid_request_error/invalid_state" in answers


def test_guards_appear_with_the_states_they_pick(spec: Spec) -> None:
    doc = render_spec_doc(spec)
    guarded = [t for t in spec.transitions if t.guard and not t.creates]
    assert guarded
    for transition in guarded:
        key, values = next(iter(transition.guard.items()))
        assert f"→ `{transition.to}` if `{key}` = {' or '.join(f'`{v}`' for v in values)}" in doc


def test_webhooks_cards_invariants_and_decisions_are_all_there(spec: Spec) -> None:
    doc = render_spec_doc(spec)
    webhooks = table(section(doc, "## Webhook event types").split("\n\n", 1)[1])
    assert [r[0] for r in webhooks[1:]] == [f"`{w}`" for w in spec.webhook_types()]
    cards = table(section(doc, "## Test cards").split("\n\n", 1)[1])
    assert [r[0] for r in cards[1:]] == [f"`{n}`" for n in spec.cards.numbers]
    invariants = table(section(doc, "## Invariants").split("\n\n", 1)[1])
    assert [r[0] for r in invariants[1:]] == [f"`{i.name}`" for i in spec.invariants]
    decisions = section(doc, "## Decisions")
    for decision in spec.decisions:
        part = section(decisions, f"### {decision.topic}")
        assert f"**The doc says:** {decision.doc_says}" in part
        assert f"**Decision:** {decision.decision}" in part
        assert f"**Why:** {decision.why}" in part


def test_a_new_state_and_event_appear_with_no_code_change(extended_spec: Spec) -> None:
    doc = render_spec_doc(extended_spec)
    assert "| `disputed` |  | The cardholder disputed the payment with their bank. | " \
           "`charge.disputed` |" in doc
    rows = table(section(section(doc, "## Expected answers: event \u00d7 state"), "### charge"))
    column = rows[0].index("`dispute`")
    by_state = {row[0]: row[column] for row in rows[1:]}
    assert by_state["`succeeded`"] == "→ `disputed`"
    assert by_state["`pending`"] == "409 invalid_request_error/invalid_state"
    assert "moves its `payment_intent` (payment_intent) to `failed` if it is `succeeded`" in doc
