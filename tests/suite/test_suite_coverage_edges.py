"""Coverage counts each edge, not only each transition: `pay` out of two states is two edges,
and each shows its own count in the coverage diagrams (issue 9: both showed the total)."""

from __future__ import annotations

import pytest

from cxpay_conformance.diagrams import coverage_texts
from cxpay_conformance.model.world import Outcome
from cxpay_conformance.spec import Spec, load_spec
from cxpay_conformance.suite.coverage import Coverage
from tests.diagrams.diagram_text import parse_dot
from tests.model.payments import card_number, new_payment
from tests.spec_variants import REAL_SPEC


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec(REAL_SPEC)


def count(coverage: Coverage, outcome: Outcome) -> None:
    """What the suite's state machine records for an accepted outcome."""
    assert outcome.accepted and outcome.transition is not None
    coverage.transition(outcome.transition.index, outcome.state)


def test_the_same_transition_from_two_states_keeps_two_counts(spec: Spec) -> None:
    coverage = Coverage(spec)
    payment, _ = new_payment(spec)
    declined = card_number(spec, authentication="none", network="decline")
    pays = []
    for _ in range(3):  # one pay from the first state, then two retries after a decline
        pays.append(payment.pay(declined))
        count(coverage, pays[-1])
        payment.respond()
    [index] = {o.transition.index for o in pays if o.transition is not None}
    transition = spec.transitions[index]
    assert len(transition.from_states) >= 2
    first, retried = pays[0].state, pays[1].state
    assert first != retried and pays[2].state == retried

    assert coverage.transitions[transition.index] == 3
    assert coverage.edges[(transition.index, first)] == 1
    assert coverage.edges[(transition.index, retried)] == 2

    rows = {(r["from"], r["to"]): r["count"] for r in coverage.per_edge() if r["transition"] == transition.label()}
    assert rows[(first, transition.to)] == 1 and rows[(retried, transition.to)] == 2

    texts = coverage_texts(spec, dict(coverage.transitions), dict(coverage.edges))
    graph = parse_dot(texts[f"{transition.object}.dot"])
    into_junction = {e.tail: e.label for e in graph.edges if e.head == f"J_t{transition.index}"}
    assert into_junction[first] == "\u00d71"
    assert into_junction[retried] == "\u00d72"
    [total] = [e for e in graph.edges if e.tail == f"J_t{transition.index}"]
    assert total.label.endswith("\u00d73")
