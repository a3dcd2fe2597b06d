"""The loader's first pass: YAML syntax errors and duplicate keys, each at its line and column."""

from __future__ import annotations

from tests.spec_variants import BreakSpec


def test_bad_indentation_is_one_problem_at_the_misindented_key(break_spec: BreakSpec) -> None:
    # One space too many: YAML reads "card_number attributes" as one scalar, then trips on ':'.
    broken = break_spec(
        ("  parameter: card_number\n  attributes:\n", "  parameter: card_number\n   attributes:\n")
    )

    problem = broken.only
    assert problem.location == broken.at("   attributes:", shift=len("   attributes"))
    assert "not valid YAML" in problem.message
    assert "mapping values are not allowed" in problem.message
    assert "indentation" in problem.hint


def test_unclosed_bracket_says_where_the_bracket_was_opened(break_spec: BreakSpec) -> None:
    broken = break_spec(
        (
            "    from: [requires_action]\n    guard: {outcome: pass}\n",
            "    from: [requires_action\n    guard: {outcome: pass}\n",
        )
    )

    problem = broken.only
    # YAML notices on the next line, at the ':' it cannot take inside a flow sequence ...
    assert problem.location == broken.at("    guard: {outcome: pass}", shift=len("    guard"))
    assert "expected ',' or ']'" in problem.message
    # ... and the message points back at the bracket that was never closed.
    bracket = broken.at("[requires_action\n")
    assert f"line {bracket.line}, column {bracket.column}" in problem.message
    assert "unclosed bracket" in problem.hint


def test_a_duplicate_key_is_reported_at_its_second_occurrence(break_spec: BreakSpec) -> None:
    broken = break_spec(("    prefix: ch_\n", "    prefix: ch_\n    prefix: cx_\n"))

    problem = broken.only
    assert problem.location == broken.at("    prefix: cx_", shift=4)
    assert problem.message == "the key 'prefix' appears twice in this mapping"
    assert "silently keep only the last one" in problem.hint


def test_a_duplicate_event_is_reported_rather_than_overwriting_the_first(
    break_spec: BreakSpec,
) -> None:
    second_settlement = (
        "  settlement:\n"
        "    actor: clock\n"
        "    operation: advanceTestClock\n"
        "    object: charge\n"
        "    due: {after: 1}\n"
    )
    broken = break_spec(("\ntransitions:\n", f"{second_settlement}\ntransitions:\n"))

    problem = broken.only
    assert problem.location == broken.at("  settlement:\n", occurrence=2, shift=2)
    assert "'settlement' appears twice" in problem.message


def test_duplicate_keys_in_several_mappings_are_all_reported(break_spec: BreakSpec) -> None:
    broken = break_spec(
        ("    prefix: ch_\n", "    prefix: ch_\n    prefix: cx_\n"),
        ("title: CX Pay\n", "title: CX Pay\ntitle: CX Pay again\n"),
    )

    assert [p.location for p in broken.problems] == [
        broken.at("title: CX Pay again"),
        broken.at("    prefix: cx_", shift=4),
    ]
