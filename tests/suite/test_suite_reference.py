"""The suite passes against the reference server, runs every check family on the way, and a
seed means the same examples wherever the suite runs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.suite import SuiteContext, run_suite
from cxpay_conformance.suite.checks import CHECKS
from cxpay_conformance.suite.report import story
from tests.suite.conftest import config_for, without_ids

SEED = 20240607


def test_the_reference_server_conforms_and_every_check_family_runs(reference: EmbeddedServer) -> None:
    config = config_for(reference, seed=SEED, max_examples=20, max_steps=25, settle_timeout=2.0, race_examples=3)
    result = run_suite(config)
    assert result.conformant, story(result)
    assert result.failure is None and result.story == [] and not result.flaky
    assert set(result.checks_run) == set(CHECKS), f"never run: {set(CHECKS) - set(result.checks_run)}"
    assert all(count > 0 for count in result.checks_run.values())
    assert result.replay == f"--seed {SEED} --max-examples 20 --max-steps 25"
    assert result.examples >= 20 and result.steps > result.examples and result.requests > result.steps

    coverage = result.coverage
    assert sum(coverage.transitions.values()) > 0 and sum(coverage.states.values()) > 0
    assert sum(coverage.rejections.values()) > 0
    per_object = {c.object: c for c in coverage.per_object()}
    assert set(per_object) == set(result.spec.objects)
    assert all(c.transitions_hit > 0 and c.states_reached > 0 for c in per_object.values()), per_object
    tested, total = coverage.rejection_pairs()
    assert 0 < tested <= total


def test_without_a_second_merchant_tenant_isolation_is_not_run(reference: EmbeddedServer) -> None:
    config = config_for(reference, seed=SEED, max_examples=4, max_steps=8)
    result = run_suite(config.__class__(**{**config.__dict__, "second_api_key": None}))
    assert result.conformant, story(result)
    assert "tenant_isolation" not in result.checks_run
    assert result.checks_run.get("auth", 0) + result.checks_run.get("idempotency", 0) > 0


def _steps_of_a_run(reference: EmbeddedServer) -> list[str]:
    seen: list[str] = []

    def listener(ctx: SuiteContext) -> None:
        if ctx.current is not None and ctx.current.steps:
            step = ctx.current.steps[-1]
            text = f"{id(ctx.current)} {step.number} {without_ids(step.story)}"
            if not seen or seen[-1] != text:
                seen.append(text)

    result = run_suite(config_for(reference, seed=SEED, max_examples=5, max_steps=8, checks=("status",)),
                       listener=listener)
    assert result.conformant, story(result)
    return [line.split(" ", 1)[1] for line in seen]


def test_a_seed_makes_the_same_examples_whatever_modules_the_process_has_loaded(
    reference: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay line is only worth printing if it replays under the CLI, the pytest plugin
    and a test alike, though each imports other modules (Hypothesis draws constants from them)."""
    before = _steps_of_a_run(reference)
    module = tmp_path / "cxpay_local_constants_probe.py"
    # Values the request bodies could hold: amounts, and host names or metadata in [a-z0-9-].
    module.write_text("\n".join(f"VALUE_{i} = ({i * 7919 + 104729}, 'zq{chr(97 + i % 26) * (1 + i % 9)}-{i}')"
                                for i in range(400)) + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        importlib.import_module("cxpay_local_constants_probe")
        after = _steps_of_a_run(reference)
    finally:
        sys.modules.pop("cxpay_local_constants_probe", None)
    assert after == before
    assert any("create_session" in line for line in before) and len(before) > 10
