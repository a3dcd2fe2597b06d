"""The concurrent phase: it finds the races of the fault catalogue, and the correct sandbox passes.

Each race fault of the reference server is a check-then-act gap widened by a sleep behind its
switch, so two requests released together by the phase's barrier overlap in it. Which plans a
seed draws depends on the Hypothesis release, so a fault gets a few seeds before it is called
missed (as the other seed-dependent tests do).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cxpay_conformance.cli import main_group
from cxpay_conformance.embedded import EmbeddedServer, embedded_server
from cxpay_conformance.server.faults import FAULTS
from cxpay_conformance.suite import checks, run_suite
from cxpay_conformance.suite.races import BRANCHES, PARTNERS, draw_plan
from cxpay_conformance.suite.report import story
from tests.suite.conftest import config_for

RACE_FAULTS = sorted(name for name, fault in FAULTS.items() if fault.family == "linearizability")


def races_only(target: Any, seed: int, **options: Any) -> Any:
    return config_for(target, seed=seed, phases=("concurrent",), race_examples=options.pop("race_examples", 30),
                      settle_timeout=1.0, **options)


def test_the_catalogue_has_the_races_the_phase_must_catch() -> None:
    assert {"no_lock_in_pay", "idempotency_insert_after_work", "expire_and_network_both_apply",
            "double_cancel_voids_twice"} <= set(RACE_FAULTS)


def test_the_correct_sandbox_is_linearizable(reference: EmbeddedServer) -> None:
    result = run_suite(races_only(reference, seed=2, race_examples=12))
    assert result.conformant, story(result)
    assert result.races == 12 * 3
    assert result.checks_run["linearizability"] == result.races
    assert result.examples == 0  # the sequential phase did not run


@pytest.mark.parametrize("fault", RACE_FAULTS)
def test_the_concurrent_phase_catches_the_race(fault: str) -> None:
    with embedded_server(faults=(fault,)) as server:
        for seed in (1, 2, 3):
            result = run_suite(races_only(server, seed=seed))
            if not result.conformant:
                break
    assert result.failure is not None, f"{fault} was not caught with seeds 1-3"
    assert result.failure.check == "linearizability", story(result)
    text = story(result)
    assert "branch 1" in text and "branch 2" in text
    assert "no order of the requests sent at once explains" in text
    assert "--phases concurrent" in result.replay


def test_the_sequential_phase_alone_does_not_race(reference: EmbeddedServer) -> None:
    result = run_suite(config_for(reference, phases=("sequential",), race_examples=5, max_examples=2))
    assert result.conformant, story(result)
    assert result.races == 0


def test_skipping_the_check_skips_the_phase(reference: EmbeddedServer) -> None:
    result = run_suite(config_for(reference, race_examples=5, max_examples=2, skip_checks=("linearizability",)))
    assert result.conformant, story(result)
    assert result.races == 0


@settings(max_examples=60, deadline=None, database=None)
@given(data=st.data())
def test_every_plan_is_drawn_before_anything_is_sent_and_has_branches(data: st.DataObject) -> None:
    plan = draw_plan(_CTX, data)
    assert BRANCHES[0] <= len(plan.branches) <= BRANCHES[1] or not plan.branches
    for branch in plan.branches:
        assert 1 <= len(branch) <= 3


def test_the_races_that_matter_are_drawn_often() -> None:
    """Among the partners of the first request, each kind of race comes up (a double click, a
    retry with the same key, another event, the clock onto a due time)."""
    seen: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None, database=None)
    @given(data=st.data())
    def draw(data: st.DataObject) -> None:
        plan = draw_plan(_CTX, data)
        if not plan.branches:
            return
        first = plan.branches[0][0]
        for branch in plan.branches[1:]:
            step = branch[0]
            if step.kind == "advance":
                seen["clock"] += 1
            elif step.same_key_as is not None:
                seen["same key"] += 1
            elif step == first:
                seen["same request"] += 1
            else:
                seen["other"] += 1

    draw()
    assert set(seen) == {"clock", "same key", "same request", "other"}, seen
    assert len(PARTNERS) >= 4


def test_an_unknown_phase_is_a_usage_error() -> None:
    result = CliRunner().invoke(main_group, ["run", "--phases", "sequential,parallel", "--max-examples", "1"])
    assert result.exit_code == 2
    assert "unknown phase 'parallel'" in result.output + (result.stderr or "")
    assert "Traceback" not in result.output


def test_the_check_is_listed() -> None:
    assert "linearizability" in checks.CHECKS


def _context() -> Any:
    from cxpay_conformance.spec import load_spec
    from cxpay_conformance.suite.context import SuiteContext
    from cxpay_conformance.suite.openapi import OpenAPIContract

    spec = load_spec(None)
    contract = OpenAPIContract.load(spec.openapi_path)
    return SuiteContext(spec, contract, adapter=None, config=config_for_none(), selected=frozenset(checks.CHECKS))  # type: ignore[arg-type]


def config_for_none() -> Any:
    from cxpay_conformance.suite import SuiteConfig

    return SuiteConfig()


_CTX = _context()
