"""The lint finds each kind of problem in a spec broken on purpose, and none in the real one.

Every test breaks one thing in a copy of spec/cxpay.yaml and checks the finding's kind, the
object, state, event or invariant it names, where it points, and (where the problem shows
in some states only) the shortest event path that shows it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cxpay_conformance.errors import UsageError
from cxpay_conformance.lint import Finding, LintReport, Step, lint_spec
from cxpay_conformance.spec import Spec, load_spec

Lint = Callable[..., tuple[Spec, LintReport]]

APPROVE = "4242424242424242"
DECLINE = "4000000000000002"
THREE_DS_APPROVE = "4000000000003220"


def transition(data: dict[str, Any], event: str, **match: Any) -> dict[str, Any]:
    """The one transition of ``event`` whose keys equal ``match`` (e.g. ``guard=...``)."""
    found = [
        t for t in data["transitions"]
        if t["event"] == event and all(t.get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, f"expected one {event} transition matching {match}, found {found}"
    return found[0]


def only(report: LintReport, kind: str, **fields: Any) -> Finding:
    """The one finding of ``kind`` whose attributes equal ``fields``."""
    found = [
        f for f in report.findings
        if f.kind == kind and all(getattr(f, k) == v for k, v in fields.items())
    ]
    everything = "\n".join(map(str, report.findings))
    assert len(found) == 1, f"expected one {kind} {fields}, got:\n{everything}"
    return found[0]


def kinds(report: LintReport) -> set[str]:
    return {f.kind for f in report.findings}


# --- the real spec ---------------------------------------------------------------------------


def test_the_real_spec_lints_clean() -> None:
    report = lint_spec(load_spec())
    assert report.findings == (), "\n".join(map(str, report.findings))
    assert report.states > 100
    assert report.transitions > report.states


def test_more_children_mean_more_states() -> None:
    spec = load_spec()
    sizes = [lint_spec(spec, max_children=n).states for n in (1, 2, 3)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3


def test_a_negative_bound_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="max_children"):
        lint_spec(load_spec(), max_children=-1)


# --- one test per finding kind ---------------------------------------------------------------


def test_a_state_nobody_enters_is_unreachable(spec_data: dict[str, Any], lint_data: Lint) -> None:
    spec_data["objects"]["charge"]["states"]["disputed"] = {"description": "Nobody goes here."}
    spec, report = lint_data(spec_data)
    finding = only(report, "unreachable-state", object="charge", state="disputed")
    assert finding.location == spec.objects["charge"].states["disputed"].location
    assert kinds(report) == {"unreachable-state"}


def test_a_state_with_no_way_out_is_a_dead_end(spec_data: dict[str, Any], lint_data: Lint) -> None:
    spec_data["transitions"].remove(transition(spec_data, "settlement"))
    spec, report = lint_data(spec_data)
    finding = only(report, "dead-end", object="charge", state="succeeded")
    assert finding.story == f"create_session -> pay(card_number={APPROVE}) -> network_response"
    assert finding.location == spec.objects["charge"].states["succeeded"].location
    only(report, "never-enabled", event="settlement")
    only(report, "unreachable-state", object="charge", state="settled")
    assert kinds(report) == {"dead-end", "never-enabled", "unreachable-state"}


def test_a_final_state_not_marked_terminal_is_a_dead_end(
    spec_data: dict[str, Any], lint_data: Lint
) -> None:
    del spec_data["objects"]["charge"]["states"]["failed"]["terminal"]
    _, report = lint_data(spec_data)
    finding = only(report, "dead-end", object="charge", state="failed")
    assert finding.story == f"create_session -> pay(card_number={DECLINE}) -> network_response"
    assert kinds(report) == {"dead-end"}


def test_overlapping_guards_are_nondeterministic(
    spec_data: dict[str, Any], lint_data: Lint
) -> None:
    unguarded = {"event": "network_response", "from": ["pending"], "to": "failed"}
    spec_data["transitions"].append(unguarded)
    spec, report = lint_data(spec_data)
    approve, decline, unguarded = spec.transitions_of("network_response")
    finding = only(report, "nondeterminism", location=approve.location)
    assert (finding.event, finding.object) == ("network_response", "charge")
    assert finding.state == "pending"
    assert finding.related == (unguarded.location,)
    assert str(unguarded.location) in finding.message
    only(report, "nondeterminism", location=decline.location)
    assert kinds(report) == {"nondeterminism"}


def test_guards_that_never_both_hold_are_fine(spec_data: dict[str, Any], lint_data: Lint) -> None:
    # The failing answer now also tests the card. The two guards still exclude each other,
    # and every card that reaches requires_action needs 3D Secure, so the cards this guard
    # leaves out never get there: no nondeterminism, and no guard gap either.
    spec_data["events"]["authenticate"]["card"] = "latest_charge"
    guarded = transition(spec_data, "authenticate", guard={"outcome": "fail"})
    guarded["guard"] = {"outcome": "fail", "card.authentication": "required"}
    _, report = lint_data(spec_data)
    assert report.findings == ()


def test_an_event_nothing_accepts_is_never_enabled(
    spec_data: dict[str, Any], lint_data: Lint
) -> None:
    transitions = spec_data["transitions"]
    spec_data["transitions"] = [t for t in transitions if t["event"] != "authenticate"]
    spec, report = lint_data(spec_data)
    finding = only(report, "never-enabled", event="authenticate")
    assert finding.location == spec.events["authenticate"].location
    assert "no transition" in finding.message
    assert kinds(report) == {"never-enabled"}


def test_a_transition_out_of_a_terminal_state(spec_data: dict[str, Any], lint_data: Lint) -> None:
    spec_data["transitions"].append({"event": "settlement", "from": ["settled"], "to": "succeeded"})
    spec, report = lint_data(spec_data)
    added = spec.transitions[-1]
    finding = only(report, "terminal-exit", location=added.location)
    assert (finding.object, finding.state, finding.event) == ("charge", "settled", "settlement")
    path = (
        f"create_session -> pay(card_number={APPROVE}) -> network_response"
        " -> settlement -> settlement"
    )
    assert finding.story == path
    absorbing = only(report, "invariant-broken", invariant="terminal_states_absorbing")
    assert absorbing.story == path
    assert kinds(report) == {"terminal-exit", "invariant-broken"}


def test_an_effect_that_reaches_into_a_terminal_object(
    spec_data: dict[str, Any], lint_data: Lint
) -> None:
    # Without `from`, canceling the payment voids the latest charge even when it already failed.
    effect = transition(spec_data, "cancel_payment")["effects"][1]
    del effect["from"]
    spec, report = lint_data(spec_data)
    cancel = spec.transitions_of("cancel_payment")[0]
    finding = only(report, "terminal-exit", location=cancel.effects[1].location)
    assert (finding.object, finding.state, finding.event) == ("charge", "failed", "cancel_payment")
    assert finding.story == (
        f"create_session -> pay(card_number={DECLINE}) -> network_response -> cancel_payment"
    )


def test_a_broken_invariant_comes_with_the_shortest_path(
    spec_data: dict[str, Any], lint_data: Lint
) -> None:
    approve = transition(spec_data, "network_response", guard={"card.network": "approve"})
    approve["effects"][1]["to"] = "expired"
    spec, report = lint_data(spec_data)
    finding = only(report, "invariant-broken", invariant="complete_iff_succeeded")
    assert finding.story == f"create_session -> pay(card_number={APPROVE}) -> network_response"
    assert finding.path == (
        Step("create_session"), Step("pay", {"card_number": APPROVE}), Step("network_response")
    )
    assert finding.location == next(
        i.location for i in spec.invariants if i.name == "complete_iff_succeeded"
    )
    assert spec.transitions_of("network_response")[0].location in finding.related
    only(report, "invariant-broken", invariant="expired_iff_payment_ended")
    only(report, "unreachable-state", object="checkout_session", state="complete")


def test_a_broken_value_invariant(spec_data: dict[str, Any], lint_data: Lint) -> None:
    pay = transition(spec_data, "pay", guard={"card.authentication": "required"})
    pay["effects"][0]["copy"] = ["amount"]
    _, report = lint_data(spec_data)
    finding = only(report, "invariant-broken", invariant="currencies_agree")
    assert finding.story == f"create_session -> pay(card_number={THREE_DS_APPROVE})"
    assert kinds(report) == {"invariant-broken"}


def test_a_case_no_guard_covers_is_a_guard_gap(spec_data: dict[str, Any], lint_data: Lint) -> None:
    spec_data["transitions"].remove(
        transition(spec_data, "network_response", guard={"card.network": "decline"})
    )
    spec, report = lint_data(spec_data)
    finding = only(report, "guard-gap", event="network_response")
    assert (finding.object, finding.state) == ("charge", "pending")
    assert finding.story == f"create_session -> pay(card_number={DECLINE}) -> network_response"
    assert finding.location == spec.transitions_of("network_response")[0].location
    assert "card.network" in finding.message


# --- the shape of findings and of the code ---------------------------------------------------


def test_a_step_names_its_target_only_among_several() -> None:
    assert str(Step("network_response")) == "network_response"
    assert str(Step("network_response", {}, "ch_2")) == "network_response[ch_2]"
    assert str(Step("pay", {"card_number": APPROVE})) == f"pay(card_number={APPROVE})"


def test_findings_serialise_to_plain_data(spec_data: dict[str, Any], lint_data: Lint) -> None:
    spec_data["objects"]["charge"]["states"]["disputed"] = {"description": "Nobody goes here."}
    _, report = lint_data(spec_data)
    data = report.as_dict()
    assert data["findings"][0]["kind"] == "unreachable-state"
    assert data["findings"][0]["location"].endswith(
        f":{report.findings[0].location.line}:{report.findings[0].location.column}"
    )


def test_the_lint_code_names_no_state_or_event_of_the_spec() -> None:
    spec = load_spec()
    names = {*spec.events, *(s for o in spec.objects.values() for s in o.states), *spec.objects}
    names |= {i.name for i in spec.invariants}
    package = Path(__file__).resolve().parents[2] / "cxpay_conformance" / "lint"
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)
        }
        literals = {
            node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings
        }
        assert not literals & names, f"{source.name} names {literals & names}"
