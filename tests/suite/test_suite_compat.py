"""The shims of ``suite/_compat.py``: each private Hypothesis API it uses does its work where
the installed Hypothesis has it, and the shim falls back (correct, only slower or less tidy)
where it is gone. CI runs these against the newest and the lowest declared Hypothesis."""

from __future__ import annotations

import gc
import inspect
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine, providers
from hypothesis.stateful import RuleBasedStateMachine, RuleStrategy, rule, run_state_machine_as_test

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.suite import _compat, run_suite
from tests.suite.conftest import config_for

QUICK = settings(max_examples=5, stateful_step_count=5, deadline=None, database=None)


def _machine_class() -> type[RuleBasedStateMachine]:
    """A fresh state machine class, as the suite builds one per run, with two rules."""

    class Counter(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.flagged_off = not _compat.every_rule_on(self)
            self.count = 0

        @rule(by=st.integers(1, 3))
        def add(self, by: int) -> None:
            self.count += by

        @rule()
        def reset(self) -> None:
            self.count = 0

    return Counter


@pytest.fixture
def no_flag_cache() -> Iterator[None]:
    """The feature flags strategy made anew before and after the test (it is cached)."""
    _compat._every_rule_on_strategy.cache_clear()
    yield
    _compat._every_rule_on_strategy.cache_clear()


def test_every_rule_on_replaces_hypothesis_feature_flags(no_flag_cache: None) -> None:
    machine = _machine_class()()
    assert _compat.every_rule_on(machine) is True
    assert machine._rules_strategy.enabled_rules_strategy is _compat._every_rule_on_strategy()  # type: ignore[attr-defined]
    run_state_machine_as_test(_machine_class(), settings=QUICK)


def test_every_rule_on_falls_back_to_hypothesis_own_flags(monkeypatch: pytest.MonkeyPatch,
                                                          no_flag_cache: None) -> None:
    monkeypatch.setattr(_compat, "FEATURE_FLAGS", "hypothesis.no_such_module")
    machine = _machine_class()()
    before = machine._rules_strategy.enabled_rules_strategy  # type: ignore[attr-defined]
    assert _compat.every_rule_on(machine) is False
    assert machine._rules_strategy.enabled_rules_strategy is before  # type: ignore[attr-defined]
    run_state_machine_as_test(_machine_class(), settings=QUICK)  # and the machine still runs


def test_every_rule_on_falls_back_without_the_rules_strategy(no_flag_cache: None) -> None:
    machine = _machine_class()()
    del machine._rules_strategy  # type: ignore[attr-defined]
    assert _compat.every_rule_on(machine) is False


def _run_and_forget(forget: bool) -> weakref.ref[Any]:
    machine = _machine_class()
    run_state_machine_as_test(machine, settings=QUICK)
    if forget:
        _compat.forget_machine_class(machine)
    return weakref.ref(machine)


def test_forget_machine_class_lets_the_class_be_collected() -> None:
    gone = _run_and_forget(forget=True)
    gc.collect()
    assert gone() is None, "Hypothesis still holds the state machine class: see _compat.forget_machine_class"


class _Bare:
    """A Hypothesis class as a release without any of the private names would have it."""


def _without_private_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shims see bare classes; Hypothesis itself keeps its own (it needs them).
    monkeypatch.setattr(_compat, "RuleBasedStateMachine", _Bare)
    monkeypatch.setattr(_compat, "RuleStrategy", _Bare)


def test_forget_machine_class_falls_back_to_keeping_the_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_private_classes(monkeypatch)
    kept = _run_and_forget(forget=True)  # nothing to forget, and no error
    gc.collect()
    assert kept() is not None or not hasattr(RuleBasedStateMachine, "_setup_state_per_class")


def test_from_the_seed_alone_turns_off_module_constants_where_hypothesis_has_them() -> None:
    collect = getattr(providers, "_get_local_constants", None)
    with _compat.from_the_seed_alone() as applied:
        if collect is None:  # a release that mixes in no module constants: nothing to turn off
            assert applied is False
        else:
            assert applied is True
            assert providers._get_local_constants() == providers.Constants()
    assert getattr(providers, "_get_local_constants", None) is collect


def test_from_the_seed_alone_falls_back_to_hypothesis_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(providers, "_get_local_constants", raising=False)
    with _compat.from_the_seed_alone() as applied:
        assert applied is False
    monkeypatch.undo()
    monkeypatch.setattr(_compat, "PROVIDERS", "hypothesis.no_such_module")
    with _compat.from_the_seed_alone() as applied:
        assert applied is False


def test_shrinking_for_at_most_sets_and_restores_the_cap() -> None:
    before = engine.MAX_SHRINKING_SECONDS
    with _compat.shrinking_for_at_most(7) as applied:
        assert applied is True
        assert engine.MAX_SHRINKING_SECONDS == 7
    assert before == engine.MAX_SHRINKING_SECONDS


def test_shrinking_for_at_most_falls_back_to_hypothesis_own_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(engine, "MAX_SHRINKING_SECONDS")
    with _compat.shrinking_for_at_most(7) as applied:
        assert applied is False
    assert not hasattr(engine, "MAX_SHRINKING_SECONDS")
    monkeypatch.undo()
    monkeypatch.setattr(_compat, "ENGINE", "hypothesis.no_such_module")
    with _compat.shrinking_for_at_most(7) as applied:
        assert applied is False


def test_rule_choice_method_names_the_draw_or_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _compat.rule_choice_method() == (RuleStrategy, "do_draw")
    _without_private_classes(monkeypatch)
    assert _compat.rule_choice_method() is None


def test_the_suite_runs_with_every_private_api_gone(monkeypatch: pytest.MonkeyPatch, no_flag_cache: None,
                                                    reference: EmbeddedServer) -> None:
    """Every fallback at once: a run still conforms, and the same seed gives the same run."""
    for module in ("FEATURE_FLAGS", "PROVIDERS", "ENGINE"):
        monkeypatch.setattr(_compat, module, "hypothesis.no_such_module")
    _without_private_classes(monkeypatch)
    config = config_for(reference, max_examples=4, max_steps=5)
    first, second = run_suite(config), run_suite(config)
    assert first.conformant, first.failure
    assert first.steps > 0
    assert (first.steps, first.requests) == (second.steps, second.requests)


def _counted_runs(seed_value: int) -> list[int]:
    counts: list[int] = []

    class Recorded(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.total = 0

        @rule(by=st.integers(0, 1000))
        def add(self, by: int) -> None:
            self.total += by

        def teardown(self) -> None:
            counts.append(self.total)

    _compat.state_machine_test(Recorded, QUICK)(seed_value)
    return counts


def test_state_machine_test_runs_seeded_batches() -> None:
    first = _counted_runs(5)
    assert len(first) == QUICK.max_examples
    assert _counted_runs(5) == first


def test_state_machine_test_adapts_to_a_test_that_takes_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    built = _compat.get_state_machine_test
    given_machine: list[Any] = []

    def older(machine: Any, *, settings: Any) -> Any:  # the older shape: test(factory)
        inner = built(machine, settings=settings)

        def test(factory: Any) -> None:
            given_machine.append(factory)
            inner._hypothesis_internal_use_seed = test._hypothesis_internal_use_seed  # type: ignore[attr-defined]
            inner() if "factory" not in inspect.signature(inner).parameters else inner(factory)

        return test

    monkeypatch.setattr(_compat, "get_state_machine_test", older)
    assert len(_counted_runs(5)) == QUICK.max_examples
    assert len(given_machine) == 1


def _failing_machine(seen: list[int]) -> type[RuleBasedStateMachine]:
    """A machine that fails once a drawn number reaches 500 (``seen``: every number drawn)."""

    class Failing(RuleBasedStateMachine):
        @rule(value=st.integers(0, 1000))
        def draw(self, value: int) -> None:
            seen.append(value)
            assert value < 500

    return Failing


def test_a_seeded_batch_keeps_and_replays_the_example_database(tmp_path: Path) -> None:
    from hypothesis.database import DirectoryBasedExampleDatabase

    database = settings(QUICK, max_examples=50, database=DirectoryBasedExampleDatabase(tmp_path))
    seen: list[int] = []
    with pytest.raises(AssertionError):
        _compat.state_machine_test(_failing_machine(seen), database)(1)
    assert any(tmp_path.rglob("*")), "the seeded run kept nothing in the example database"
    # Another seed, and a class of the same name: the kept (shrunk) failure is the first example.
    again: list[int] = []
    with pytest.raises(AssertionError):
        _compat.state_machine_test(_failing_machine(again), database)(2)
    assert again[0] == 500, again[:5]


def test_seeding_falls_back_to_seed_without_the_private_attribute(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    first = _counted_runs(5)
    monkeypatch.setattr(_compat, "SEED_ATTRIBUTE", "_no_such_attribute")
    assert _counted_runs(5) == first  # the same examples from the same seed, through @seed
    from hypothesis.database import DirectoryBasedExampleDatabase

    database = settings(QUICK, max_examples=50, database=DirectoryBasedExampleDatabase(tmp_path))
    with pytest.raises(AssertionError):
        _compat.state_machine_test(_failing_machine([]), database)(1)
    assert not any(tmp_path.rglob("*"))  # @seed turned the database off: correct, only without it
