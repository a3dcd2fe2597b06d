"""The shared refund extension of the spec (``tests/spec_variants.py``: new terminal states on
two objects, a merchant event, a transition and an effect; two states stop being terminal) is
drawn and documented with no code change, like the model and the lint."""

from __future__ import annotations

from pathlib import Path

from cxpay_conformance.diagrams import diagram_texts
from cxpay_conformance.spec import load_spec
from cxpay_conformance.specdoc import render_spec_doc
from tests.diagrams.diagram_text import mermaid_arrows, mermaid_blocks, parse_dot
from tests.spec_variants import write_refund_spec


def test_the_refund_extension_is_drawn_and_documented(tmp_path: Path) -> None:
    spec = load_spec(write_refund_spec(tmp_path))
    texts = diagram_texts(spec)

    intent = parse_dot(texts["payment_intent.dot"])
    assert intent.nodes["refunded"].get("peripheries") == "2"
    assert "peripheries" not in intent.nodes["succeeded"]  # no longer terminal
    [arrow] = [e for e in intent.labelled("refund_payment") if e.head == "refunded"]
    assert arrow.tail == "succeeded"

    charge = parse_dot(texts["charge.dot"])
    assert "peripheries" not in charge.nodes["settled"]
    [induced] = charge.labelled("refund_payment (on payment_intent)")
    assert induced.head == "refunded"
    assert charge.sources(induced) == {"succeeded", "settled"}

    blocks = mermaid_blocks(texts["diagrams.md"])
    ends = {a.source for a in mermaid_arrows(blocks["charge"]) if a.target == "[*]"}
    assert "refunded" in ends and "settled" not in ends

    doc = render_spec_doc(spec)
    assert "`refund_payment`" in doc and "`payment_intent.refunded`" in doc
