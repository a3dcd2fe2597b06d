"""A spec with refunds (one more state on two objects, a new event and its transitions) is
model-checked by the same code: the new states are reached, the new event is enabled, and
its invariants hold, with no change to the lint's Python."""

from __future__ import annotations

from pathlib import Path

from cxpay_conformance.lint import lint_spec
from cxpay_conformance.spec import load_spec
from tests.spec_variants import write_refund_spec


def test_the_refund_spec_lints_clean_and_explores_more(tmp_path: Path) -> None:
    refund = load_spec(write_refund_spec(tmp_path))
    assert "refunded" in refund.objects["payment_intent"].states  # the variant really is extended

    report = lint_spec(refund)
    real = lint_spec(load_spec())

    # Clean means: no unreachable-state (so `refunded` is reached on both objects), no
    # never-enabled (so the refund event fires), no dead end and no broken invariant.
    assert report.findings == ()
    assert report.states > real.states
    assert report.transitions > real.transitions


def test_breaking_the_refund_is_found(tmp_path: Path) -> None:
    # Refunding the payment intent without refunding its charge breaks no link, but leaves
    # a refunded intent with a settled charge: refunds must reach the charge too.
    path = write_refund_spec(tmp_path)
    text = path.read_text(encoding="utf-8")
    start = text.index("event: refund_payment")
    effects = text.index("effects:", start)
    line_end = text.index("\n", text.index("to: refunded", effects))
    broken = text[:effects] + "effects: []" + text[line_end:]
    path.write_text(broken, encoding="utf-8")
    kinds = {finding.kind for finding in lint_spec(load_spec(path)).findings}
    assert kinds, "removing the refund's effect on the charge must leave something unreachable or broken"
    assert "unreachable-state" in kinds
