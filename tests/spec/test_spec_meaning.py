"""The loader's third pass: a well-formed spec that names things that do not exist.

Each test breaks one thing in the real spec and checks that the loader points at the exact
line and column to change, says what is wrong, and hints at the fix ("did you mean" for a
near-miss). A broken name must be a reported problem, never a KeyError from inside the loader.
"""

from __future__ import annotations

from pathlib import Path

from cxpay_conformance.spec import load_spec
from tests.spec_variants import REAL_OPENAPI, BreakSpec, write_variant

CANCEL_FROM = (
    "cancel_payment\n    from: [requires_payment_method, requires_action, processing, failed]"
)
AUTHENTICATE_REJECTION = (
    "    rejection: invalid_state\n    description: The customer answers the 3D Secure challenge."
)


def test_a_misspelt_from_state_suggests_the_state(break_spec: BreakSpec) -> None:
    broken = break_spec((CANCEL_FROM, CANCEL_FROM.replace("processing", "proccessing")))

    problem = broken.only
    assert problem.location == broken.at("proccessing")
    assert problem.message == "unknown state of payment_intent 'proccessing'"
    assert problem.hint == "did you mean 'processing'?"


def test_an_unknown_to_state_is_reported_at_to(break_spec: BreakSpec) -> None:
    broken = break_spec(
        ("    guard: {outcome: pass}\n    to: processing\n",
         "    guard: {outcome: pass}\n    to: procesing\n")
    )

    problem = broken.only
    assert problem.location == broken.at("    to: procesing", shift=4)
    assert problem.message == "unknown state of payment_intent 'procesing'"
    assert problem.hint == "did you mean 'processing'?"


def test_a_transition_of_an_unknown_event(break_spec: BreakSpec) -> None:
    broken = break_spec(("  - event: settlement\n", "  - event: settlment\n"))

    problem = broken.only
    assert problem.location == broken.at("event: settlment")
    assert problem.message == "unknown event 'settlment'"
    assert problem.hint == "did you mean 'settlement'?"


def test_an_operation_missing_from_openapi_suggests_the_real_one(break_spec: BreakSpec) -> None:
    broken = break_spec(("operation: respondToCharge\n", "operation: respondToCharges\n"))

    problem = broken.only
    assert problem.location == broken.at("operation: respondToCharges")
    assert "'respondToCharges'" in problem.message
    assert "OpenAPI" in problem.message
    assert problem.hint == "did you mean 'respondToCharge'?"


def test_a_guard_on_an_unknown_card_behaviour_lists_the_behaviours(break_spec: BreakSpec) -> None:
    broken = break_spec(
        ("guard: {card.network: approve}", "guard: {card.colour: approve}")
    )

    problem = broken.only
    assert problem.location == broken.at("card.colour")
    assert problem.message == "unknown card behaviour 'colour'"
    assert problem.hint == "use one of: authentication, network, decline_code"


def test_a_card_guard_value_that_the_cards_do_not_have(break_spec: BreakSpec) -> None:
    broken = break_spec(
        ("guard: {card.network: approve}", "guard: {card.network: approved}")
    )

    problem = broken.only
    assert problem.location == broken.at("card.network: approved")
    assert problem.message == "unknown value of card.network 'approved'"
    assert problem.hint == "did you mean 'approve'?"


def test_a_parameter_guard_value_that_the_event_does_not_take(break_spec: BreakSpec) -> None:
    broken = break_spec(("guard: {outcome: fail}", "guard: {outcome: maybe}"))

    problem = broken.only
    assert problem.location == broken.at("outcome: maybe")
    assert problem.message == "unknown value of outcome 'maybe'"
    assert problem.hint == "use one of: pass, fail"


def test_a_duplicate_transition_names_the_first(break_spec: BreakSpec) -> None:
    settlement = "  - event: settlement\n    from: [succeeded]\n    to: settled\n"
    broken = break_spec((settlement, settlement + settlement))

    problem = broken.only
    assert problem.location == broken.at("- event: settlement", occurrence=2, shift=2)
    assert problem.message == (
        "duplicate transition: settlement from succeeded is already defined by transition #11"
    )
    assert "different guards" in problem.hint


def test_an_effect_through_a_missing_link_lists_the_links(break_spec: BreakSpec) -> None:
    broken = break_spec(
        ("{set: payment_intent.checkout_session, from: [open], to: complete}",
         "{set: payment_intent.session, from: [open], to: complete}")
    )

    problem = broken.only
    assert problem.location == broken.at("{set: payment_intent.session")
    assert "payment_intent has no link 'session'" in problem.message
    assert "checkout_session, charges, latest_charge" in problem.message


def test_a_create_effect_through_a_link_that_does_not_own(break_spec: BreakSpec) -> None:
    broken = break_spec(
        ("{create: charges, state: pending,", "{create: latest_charge, state: pending,")
    )

    problem = broken.only
    assert problem.location == broken.at("{create: latest_charge")
    assert problem.message == "create: 'latest_charge' must be a link that payment_intent owns"
    assert "owns: many" in problem.hint


def test_an_event_without_rejection_lists_the_states_that_need_one(break_spec: BreakSpec) -> None:
    broken = break_spec(
        (AUTHENTICATE_REJECTION, "    description: The customer answers the 3D Secure challenge.")
    )

    problem = broken.only
    assert problem.location == broken.at("  authenticate:\n", shift=2)
    # authenticate is allowed from requires_action only.
    assert problem.message.endswith(
        "requires_payment_method, processing, succeeded, failed, canceled, expired"
    )
    assert "rejection: <name>" in problem.hint


def test_an_unknown_rejection_name_is_a_problem_not_a_crash(break_spec: BreakSpec) -> None:
    broken = break_spec(
        (AUTHENTICATE_REJECTION, AUTHENTICATE_REJECTION.replace("invalid_state", "invalid_stat"))
    )

    problem = broken.only
    assert problem.location == broken.at("rejection: invalid_stat\n")
    assert problem.message == "unknown rejection 'invalid_stat'"
    assert problem.hint == "did you mean 'invalid_state'?"


def test_an_invariant_through_an_unknown_link(break_spec: BreakSpec) -> None:
    broken = break_spec(
        ("count: {path: payment_intent.charges, in: [requires_action, pending], at_most: 1}",
         "count: {path: payment_intent.attempts, in: [requires_action, pending], at_most: 1}")
    )

    problem = broken.only
    assert problem.location == broken.at("- name: one_charge_in_flight", shift=2)
    assert "invariant one_charge_in_flight" in problem.message
    assert "payment_intent has no link 'attempts'" in problem.message


def test_an_invariant_on_an_unknown_state(break_spec: BreakSpec) -> None:
    broken = break_spec(
        ("      - {path: \"\", in: [complete]}\n      - {path: payment_intent, in: [succeeded]}\n",
         "      - {path: \"\", in: [complete]}\n      - {path: payment_intent, in: [succeded]}\n")
    )

    problem = broken.only
    assert problem.location == broken.at("- name: complete_iff_succeeded", shift=2)
    assert problem.message == "unknown state of payment_intent 'succeded'"
    assert problem.hint == "did you mean 'succeeded'?"


def test_a_link_to_an_unknown_object_type_is_a_problem_not_a_crash(
    break_spec: BreakSpec,
) -> None:
    broken = break_spec(
        ("charges: {object: charge, field: charges, owns: many}",
         "charges: {object: charges, field: charges, owns: many}")
    )

    first = broken.problems[0]
    assert first.location == broken.at("object: charges,")
    assert first.message == "unknown object type 'charges'"
    assert first.hint == "did you mean 'charge'?"
    # What follows the broken link (effects, invariants) is reported, not raised.
    assert any("leads to the unknown type 'charges'" in p.message for p in broken.problems[1:])


def test_two_root_objects(break_spec: BreakSpec) -> None:
    customer = (
        "  customer:\n"
        "    prefix: cus_\n"
        "    description: A customer.\n"
        "    states:\n"
        "      active: {description: Active., initial: true}\n"
    )
    broken = break_spec(("\ncards:\n", f"{customer}\ncards:\n"))

    problem = broken.only
    assert problem.location == broken.at("objects:\n")
    assert "exactly one object type must be the root" in problem.message
    assert "['checkout_session', 'customer']" in problem.message
    assert "owner: true" in problem.hint


def test_an_emitted_type_must_start_with_its_object(break_spec: BreakSpec) -> None:
    broken = break_spec(("emits: charge.settled\n", "emits: payout.settled\n"))

    problem = broken.only
    assert problem.location == broken.at("emits: payout.settled")
    assert problem.message == "the event type 'payout.settled' must start with 'charge.'"


def test_a_missing_openapi_file(break_spec: BreakSpec, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "openapi.yaml"
    broken = break_spec((f"openapi: {REAL_OPENAPI}\n", f"openapi: {missing}\n"))

    problem = broken.only
    assert problem.location == broken.at(f"openapi: {missing}")
    assert str(missing) in problem.message
    assert "cannot be read" in problem.message
    assert "point `openapi:`" in problem.hint


def test_an_openapi_file_that_is_not_a_mapping_is_a_problem_not_a_crash(
    break_spec: BreakSpec, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n", encoding="utf-8")
    broken = break_spec((f"openapi: {REAL_OPENAPI}\n", f"openapi: {notes}\n"))

    problem = broken.only
    assert problem.location == broken.at(f"openapi: {notes}")
    assert "is not an OpenAPI document" in problem.message


def test_a_relative_openapi_path_is_read_beside_the_spec(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text(REAL_OPENAPI.read_text(encoding="utf-8"), encoding="utf-8")
    spec = load_spec(write_variant(tmp_path, (f"openapi: {REAL_OPENAPI}\n", "openapi: api.yaml\n")))

    assert spec.openapi_path == str((tmp_path / "api.yaml").resolve())


def test_every_meaning_problem_is_reported_at_once(break_spec: BreakSpec) -> None:
    broken = break_spec(
        (CANCEL_FROM, CANCEL_FROM.replace("processing", "proccessing")),
        ("  - event: settlement\n", "  - event: settlment\n"),
        ("operation: respondToCharge\n", "operation: respondToCharges\n"),
        ("emits: charge.settled\n", "emits: payout.settled\n"),
    )

    assert sorted((p.location.line, p.location.column) for p in broken.problems) == sorted(
        (where.line, where.column)
        for where in (
            broken.at("proccessing"),
            broken.at("event: settlment"),
            broken.at("operation: respondToCharges"),
            broken.at("emits: payout.settled"),
        )
    )
    assert len({p.message for p in broken.problems}) == 4


def test_an_idempotency_key_length_whose_min_is_above_its_max(break_spec: BreakSpec) -> None:
    broken = break_spec(("idempotency_key_length: {min: 1, max: 255}", "idempotency_key_length: {min: 256, max: 255}"))

    problem = broken.only
    assert problem.location == broken.at("idempotency_key_length: {min: 256")
    assert problem.message == "idempotency_key_length: min 256 is more than max 255"
    assert problem.hint == "give the shortest key accepted as min and the longest as max"


def test_the_key_length_rejection_must_be_a_rejection_of_the_spec(break_spec: BreakSpec) -> None:
    broken = break_spec(("key_length_invalid: idempotency_key_invalid", "key_length_invalid: idempotency_key_invalidd"))

    problem = broken.only
    assert problem.location == broken.at("key_length_invalid: idempotency_key_invalidd")
    assert problem.message == "unknown rejection 'idempotency_key_invalidd'"
    assert problem.hint == "did you mean 'idempotency_key_invalid'?"
