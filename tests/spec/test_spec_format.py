"""The loader's second pass: the format (spec/schema.json), each problem at its line and column."""

from __future__ import annotations

from tests.spec_variants import BreakSpec


def test_an_unknown_top_level_key_is_reported_at_that_key(break_spec: BreakSpec) -> None:
    broken = break_spec(("\nclock:\n", "\ncolour: red\nclock:\n"))

    problem = broken.only
    assert problem.location == broken.at("colour: red")
    assert problem.message == "the top level: unknown key ('colour' was unexpected)"
    assert "remove the key" in problem.hint


def test_an_unknown_key_in_a_state_is_reported_at_that_key(break_spec: BreakSpec) -> None:
    broken = break_spec(
        (
            "        terminal: true\n        emits: charge.settled\n",
            "        terminal: true\n        colour: red\n        emits: charge.settled\n",
        )
    )

    problem = broken.only
    assert problem.location == broken.at("        colour: red", shift=8)
    assert problem.message.startswith("objects.charge.states.settled: unknown key")
    assert "'colour'" in problem.message


def test_a_state_without_description_is_reported_at_the_state(break_spec: BreakSpec) -> None:
    broken = break_spec(("        description: Money captured. Done; fulfill the order.\n", ""))

    problem = broken.only
    # payment_intent's succeeded comes before charge's in the file.
    assert problem.location == broken.at("      succeeded:\n", shift=6)
    assert problem.message == "objects.payment_intent.states.succeeded: 'description' is missing"
    assert "add the missing key" in problem.hint


def test_a_prefix_that_breaks_the_pattern_names_the_pattern(break_spec: BreakSpec) -> None:
    broken = break_spec(("    prefix: pi_\n", "    prefix: PI-\n"))

    problem = broken.only
    assert problem.location == broken.at("    prefix: PI-", shift=4)
    assert "objects.payment_intent.prefix" in problem.message
    assert "'PI-' does not match" in problem.message
    assert problem.hint == "the value must match ^[a-z]+_$"


def test_a_value_of_the_wrong_type_is_reported_at_its_key(break_spec: BreakSpec) -> None:
    broken = break_spec(("  settlement_delay: 172800\n", "  settlement_delay: two days\n"))

    problem = broken.only
    assert problem.location == broken.at("  settlement_delay: two days", shift=2)
    assert problem.message == "clock.settlement_delay: 'two days' is not of type 'integer'"


def test_an_effect_mixing_create_and_set_keys_is_one_problem(break_spec: BreakSpec) -> None:
    broken = break_spec(
        (
            "{set: latest_charge, from: [requires_action], to: pending}",
            "{set: latest_charge, create: charges, from: [requires_action], to: pending}",
        )
    )

    problem = broken.only
    assert problem.location == broken.at("{set: latest_charge, create: charges")
    assert problem.message.startswith("transitions.3.effects.0: ")
    assert "mixes the keys of two forms" in problem.hint


def test_a_bad_actor_lists_the_actors(break_spec: BreakSpec) -> None:
    broken = break_spec(("    actor: network\n", "    actor: robot\n"))

    problem = broken.only
    assert problem.location == broken.at("    actor: robot", shift=4)
    assert problem.message.startswith("events.network_response.actor: 'robot' is not one of")
    for actor in ("merchant", "customer", "network", "clock"):
        assert actor in problem.hint


def test_every_format_problem_is_reported_at_once(break_spec: BreakSpec) -> None:
    broken = break_spec(
        ("    prefix: pi_\n", "    prefix: PI-\n"),
        ("    actor: network\n", "    actor: robot\n"),
        ("  - event: settlement\n    from: [succeeded]\n", "  - event: settlement\n    from: []\n"),
    )

    assert sorted(p.location.line for p in broken.problems) == [
        broken.at("    prefix: PI-").line,
        broken.at("    actor: robot").line,
        broken.at("    from: []").line,
    ]
    empty_from = next(p for p in broken.problems if p.message.startswith("transitions.10.from"))
    assert empty_from.location == broken.at("    from: []", shift=4)
    assert "should be non-empty" in empty_from.message
