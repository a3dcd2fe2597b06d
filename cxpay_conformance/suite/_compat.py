"""Every use of another library's private API, in one place, each with a fallback.

The suite leans on a few Hypothesis internals that no documented API offers: turning its
feature flags off, forgetting a state machine class, capping the shrink time, generating
from the seed alone, seeding without losing the example database, and (for the benchmarks)
the method that chooses each rule. Each shim here tries the private thing and, where it is
missing or changed, falls back to what Hypothesis does anyway: correct, only slower or less
tidy. When a Hypothesis release changes one of them, this file changes, and
``tests/suite/test_suite_compat.py`` (run by CI against the newest and the lowest declared
versions) says so first.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, RuleStrategy, get_state_machine_test

#: The private modules used, by name (the tests point these elsewhere to take the fallbacks).
FEATURE_FLAGS = "hypothesis.strategies._internal.featureflags"
PROVIDERS = "hypothesis.internal.conjecture.providers"
ENGINE = "hypothesis.internal.conjecture.engine"
#: Where ``@seed`` puts the seed on a ``@given`` test (read by Hypothesis when the test runs).
SEED_ATTRIBUTE = "_hypothesis_internal_use_seed"


def every_rule_on(machine: RuleBasedStateMachine) -> bool:
    """Turn Hypothesis's own feature flags off for ``machine``: every rule stays available.

    Hypothesis turns rules off at random (its feature flags) through the private
    ``_rules_strategy.enabled_rules_strategy`` of the machine. Returns whether it could;
    without it, Hypothesis flags rules as it always does (stories shrink less tidily).

    >>> every_rule_on(machine)  # in the machine's __init__, after super().__init__()
    True
    """
    every_rule_on_strategy = _every_rule_on_strategy()
    rules = getattr(machine, "_rules_strategy", None)
    if every_rule_on_strategy is None or rules is None or not hasattr(rules, "enabled_rules_strategy"):
        return False
    rules.enabled_rules_strategy = every_rule_on_strategy
    return True


@functools.cache
def _every_rule_on_strategy() -> st.SearchStrategy[Any] | None:
    """Feature flags made without a test case: every rule on, and nothing drawn to say so."""
    try:
        return st.just(importlib.import_module(FEATURE_FLAGS).FeatureFlags())
    except (ImportError, AttributeError, TypeError):  # another layout, or another constructor
        return None


#: The class-keyed dicts of RuleBasedStateMachine, in the releases that have each.
_PER_CLASS = ("_setup_state_per_class", "_rules_per_class", "_invariants_per_class", "_initializers_per_class")


def forget_machine_class(machine: type[Any]) -> None:
    """Drop what Hypothesis keeps of a state machine class for the life of the process.

    Hypothesis caches every state machine class it ran (private class-keyed dicts:
    ``_setup_state_per_class`` now, ``_rules_per_class`` and two more in older releases; and two
    functools caches), as classes are usually defined once, at import. The suite builds one
    per run; without this, only memory is lost (each run's class stays alive).

    >>> forget_machine_class(machine)  # when the run that built it ends
    """
    for name in _PER_CLASS:
        per_class = getattr(RuleBasedStateMachine, name, None)
        if isinstance(per_class, dict):
            per_class.pop(machine, None)
    for cached in (getattr(RuleStrategy, "_setup_for", None), getattr(RuleBasedStateMachine, "_to_test_case", None)):
        clear = getattr(cached, "cache_clear", None)
        if callable(clear):  # functools caches, keyed by class: they would keep ours too
            clear()


@contextmanager
def from_the_seed_alone() -> Iterator[bool]:
    """Generate from the seed alone, so that ``--seed N`` replays in any process.

    Newer Hypothesis mixes into what it generates constants it collects from every local
    module loaded so far (private ``hypothesis.internal.conjecture.providers``), so the same
    seed made other examples in a process that had imported other modules. Yields whether
    it could turn that off; where the private names are missing (a release without that
    mixing, or another layout), Hypothesis behaves as it always does.

    >>> with from_the_seed_alone():
    ...     test()
    """
    try:
        providers = importlib.import_module(PROVIDERS)
    except ImportError:
        yield False
        return
    collect = getattr(providers, "_get_local_constants", None)
    cache: Any = getattr(providers, "CONSTANTS_CACHE", None)
    constants = getattr(providers, "Constants", None)
    if collect is None or constants is None or not hasattr(cache, "cache"):
        yield False
        return
    none = constants()
    # setattr, not an assignment: the private names' types differ from release to release.
    setattr(providers, "_get_local_constants", lambda: none)  # noqa: B010
    cache.cache.clear()
    try:
        yield True
    finally:
        setattr(providers, "_get_local_constants", collect)  # noqa: B010
        cache.cache.clear()


@contextmanager
def shrinking_for_at_most(seconds: float) -> Iterator[bool]:
    """Cap the time Hypothesis spends shrinking one failure (its default is five minutes).

    The cap is the module constant ``MAX_SHRINKING_SECONDS`` of the private
    ``hypothesis.internal.conjecture.engine``, which a comment there says to monkeypatch for
    the purpose. Yields whether it could; without it, shrinking keeps Hypothesis's own cap
    (slower, the same result or a shorter story).

    >>> with shrinking_for_at_most(20):
    ...     run_suite(config)
    """
    try:
        engine = importlib.import_module(ENGINE)
    except ImportError:
        yield False
        return
    before = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if not isinstance(before, int | float):
        yield False
        return
    setattr(engine, "MAX_SHRINKING_SECONDS", seconds)  # noqa: B010 (as above)
    try:
        yield True
    finally:
        setattr(engine, "MAX_SHRINKING_SECONDS", before)  # noqa: B010


def state_machine_test(machine: type[RuleBasedStateMachine], config: settings) -> Callable[[int], None]:
    """The test that runs ``machine`` as ``config`` says, built once: call it with each seed.

    Building it makes Hypothesis read and digest the machine's source, so the suite reuses
    one for every batch. ``get_state_machine_test`` is public by name but undocumented: in older
    releases its test takes the machine class as an argument, in newer ones nothing.

    >>> test = state_machine_test(machine, settings(max_examples=10))
    >>> test(1234)  # one seeded batch; raises what the machine raises
    """
    test = get_state_machine_test(machine, settings=config)
    takes_factory = "factory" in inspect.signature(test).parameters

    def run(seed_value: int) -> None:
        seeded_keeping_database(test, seed_value)
        if takes_factory:
            test(machine)
        else:
            test()

    return run


def seeded_keeping_database(test: Any, seed_value: int) -> bool:
    """Seed the Hypothesis test ``test`` (made by ``@given``) without losing its example database.

    Hypothesis's public ``@seed`` also turns the example database off (``database=None`` in the
    test's settings): a seeded run neither tries the failures kept from earlier runs nor keeps
    its own. The suite seeds every batch (``--seed`` replays a run), and ``--example-db`` must
    still work, so this sets only the seed, through the private attribute ``@seed`` sets,
    ``_hypothesis_internal_use_seed``. Answers whether it could; where that attribute is gone,
    it falls back to ``@seed``: the same examples from the same seed, without the database.

    >>> seeded_keeping_database(test, 1234)
    True
    """
    if hasattr(test, SEED_ATTRIBUTE):
        setattr(test, SEED_ATTRIBUTE, seed_value)
        return True
    seed(seed_value)(test)
    return False


def rule_choice_method() -> tuple[type[Any], str] | None:
    """Where Hypothesis chooses each step's rule and draws its arguments, for the profilers
    of ``benchmarks/``: ``(RuleStrategy, "do_draw")``, a strategy's private draw method.
    None where it is missing; the benchmarks then count that time as the rest's.

    >>> owner, name = rule_choice_method()
    """
    if callable(getattr(RuleStrategy, "do_draw", None)):
        return RuleStrategy, "do_draw"
    return None


__all__ = ["every_rule_on", "forget_machine_class", "from_the_seed_alone", "rule_choice_method",
           "seeded_keeping_database", "shrinking_for_at_most", "state_machine_test"]
