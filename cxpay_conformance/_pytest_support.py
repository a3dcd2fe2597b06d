"""What the pytest plugin does when a shard runs; kept out of the plugin so pytest loads it lazily."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from cxpay_conformance.errors import ConformanceFailure, CXPayError
from cxpay_conformance.suite import SuiteConfig, SuiteResult, example_db, run_suite
from cxpay_conformance.suite.config import PROFILES
from cxpay_conformance.suite.report import shrinking_summary, story, write_reports


class ShardFailed(AssertionError):
    """A shard found the implementation not conformant; the result holds the story."""


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (value or "").split(",") if n.strip())


def run_shard(config: pytest.Config, shard: int, shards: int) -> SuiteResult:
    """Run one shard's share of the examples, with a seed derived from the session's seed."""
    seed = int(config._cxpay_seed)  # type: ignore[attr-defined]
    shard_seed = seed if shard == 0 else random.Random(f"{seed}:shard:{shard}").randrange(2**32)
    profile = config.getoption("--cxpay-profile")
    total = config.getoption("--cxpay-max-examples") or PROFILES[profile][0]
    share = max(1, total // shards + (1 if shard < total % shards else 0))
    races = config.getoption("--cxpay-race-examples")  # None: the profile's, shared as the examples are
    race_share = None if races is None else races // shards + (1 if shard < races % shards else 0)
    base_url = config.getoption("--cxpay-base-url")
    options = dict(
        spec_path=config.getoption("--cxpay-spec"), seed=shard_seed, profile=profile,
        max_examples=share, max_steps=config.getoption("--cxpay-max-steps"),
        phases=_names(config.getoption("--cxpay-phases")), race_examples=race_share,
        race_repeats=config.getoption("--cxpay-race-repeats"),
        checks=_names(config.getoption("--cxpay-checks")),
        skip_checks=_names(config.getoption("--cxpay-skip-checks")),
        webhook_host=config.getoption("--cxpay-webhook-host"),
        shrink_budget=config.getoption("--cxpay-shrink-budget"),
        database=example_db.parse(config.getoption("--cxpay-example-db") or example_db.DEFAULT),
        report_dir=f"cxpay-report/shard-{shard + 1}",
        option_prefix="cxpay-",  # a mistake in the options is told as pytest spells them
    )
    try:
        if base_url:
            # The keys as the command line takes them: an option, or else the environment.
            key = config.getoption("--cxpay-api-key") or os.environ.get("CXPAY_API_KEY")
            if not key:
                raise pytest.UsageError("--cxpay-base-url needs --cxpay-api-key (or CXPAY_API_KEY)")
            second = config.getoption("--cxpay-second-api-key") or os.environ.get("CXPAY_SECOND_API_KEY")
            result = run_suite(SuiteConfig(base_url=base_url, api_key=key, second_api_key=second, **options))
        else:
            from cxpay_conformance.embedded import embedded_server

            with embedded_server() as server:
                result = run_suite(SuiteConfig.for_embedded(server, **options))
    except CXPayError as exc:
        pytest.fail(str(exc), pytrace=False)
    written = write_reports(result, options["report_dir"])
    if result.failure is not None:
        where = f"\nReproduction script: {written['repro']}" if "repro" in written else ""
        where += f"\nHTML report: {written['html']}" if "html" in written else ""
        shrunk = shrinking_summary(result)
        where += f"\n{shrunk}" if shrunk else ""
        raise ShardFailed(story(result) + where)
    return result


def describe_failure(result: Any, error: BaseException) -> str:
    """The story of a failed shard (no traceback of our plumbing)."""
    if isinstance(error, ShardFailed | ConformanceFailure):
        return str(error)
    return f"{type(error).__name__}: {error}"
