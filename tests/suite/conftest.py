"""Fixtures for the conformance suite's tests: the reference server, faulty variants of it, and
small seeded runs of the suite (no example database, so that every run is its seed's alone)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from cxpay_conformance.embedded import EmbeddedServer, embedded_server
from cxpay_conformance.suite import SuiteConfig, SuiteResult
from tests.suite.faulty import Running, serve, variant

_IDS = re.compile(r"\b(cs|pi|ch|evt|we)_[A-Za-z0-9_-]{8,}")


@pytest.fixture(scope="module")
def reference() -> Iterator[EmbeddedServer]:
    """The reference server, as the CLI starts it when given no URL."""
    with embedded_server() as server:
        yield server


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[Running]:
    """The faulty variant named by the test's ``family`` parameter, on a loopback port."""
    with serve(variant(request.param)) as running:
        yield running


def config_for(target: Running | EmbeddedServer, **options: Any) -> SuiteConfig:
    """A small, seeded suite run against ``target``, with both merchants' keys."""
    defaults: dict[str, Any] = {"seed": 1, "max_examples": 20, "max_steps": 6, "database": None,
                                "settle_timeout": 0.0, "race_examples": 0}
    return SuiteConfig(base_url=target.base_url, api_key=target.api_key,
                       second_api_key=target.second_api_key, **{**defaults, **options})


def replayed(config: SuiteConfig, result: SuiteResult) -> SuiteConfig:
    """``config`` with the ``--seed/--max-examples/--max-steps`` a result's replay line gives."""
    options = dict(re.findall(r"--([a-z-]+) (\S+)", result.replay))
    assert set(options) == {"seed", "max-examples", "max-steps"}, result.replay
    return replace(config, seed=int(options["seed"]), max_examples=int(options["max-examples"]),
                   max_steps=int(options["max-steps"]))


def without_ids(text: str) -> str:
    """``text`` with the implementation's ids masked (they differ from run to run)."""
    return _IDS.sub(r"\1_<id>", text)
