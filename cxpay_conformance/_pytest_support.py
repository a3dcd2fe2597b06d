"""What the pytest plugin does when a shard runs; kept out of the plugin so pytest loads it lazily."""

from __future__ import annotations

import os
from typing import Any

import pytest

from cxpay_conformance.errors import ConformanceFailure, CXPayError
from cxpay_conformance.suite import SuiteConfig, SuiteResult, example_db, run_suite
from cxpay_conformance.suite.report import shrinking_summary, story, write_reports
from cxpay_conformance.suite.shares import Share, useful_workers


class ShardFailed(AssertionError):
    """A shard found the implementation not conformant; the result holds the story."""


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (value or "").split(",") if n.strip())


def useful_shards(config: pytest.Config) -> int:
    """As many shards as the run has batches (of either phase): more would run nothing."""
    return useful_workers(_whole(config).examples, _whole(config).races)


def _whole(config: pytest.Config) -> SuiteConfig:
    return SuiteConfig(profile=config.getoption("--cxpay-profile"),
                       max_examples=config.getoption("--cxpay-max-examples"),
                       phases=_names(config.getoption("--cxpay-phases")),
                       race_examples=config.getoption("--cxpay-race-examples"))


def _merchant(keys: str | None, option: str, workers: int) -> str | None:
    """This xdist worker's key of a comma-separated list (gw0 the first; ``workers`` xdist workers):
    shards that run at once must test as merchants of their own, as each merchant has one test clock."""
    names = _names(keys)
    if len(names) <= 1 and (workers <= 1 or not names):
        return keys
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    if max(workers, worker + 1) > len(names):
        raise pytest.UsageError(f"{option} gives {len(names)} merchant's key{'s' if len(names) > 1 else ''} for "
                                f"{max(workers, worker + 1)} pytest-xdist workers, whose shards run at once and each "
                                "need a merchant of their own (one test clock each): give one comma-separated key per "
                                f"worker, or -n {len(names)}")
    return names[worker]


def run_shard(config: pytest.Config, shard: int, shards: int) -> SuiteResult:
    """Run one shard: share ``shard`` of ``shards`` of the run's batches (:mod:`.suite.shares`),
    all with the session's seed."""
    seed = int(config._cxpay_seed)  # type: ignore[attr-defined]
    profile = config.getoption("--cxpay-profile")
    base_url = config.getoption("--cxpay-base-url")
    options = dict(
        spec_path=config.getoption("--cxpay-spec"), seed=seed, profile=profile,
        max_examples=config.getoption("--cxpay-max-examples"), max_steps=config.getoption("--cxpay-max-steps"),
        phases=_names(config.getoption("--cxpay-phases")), race_examples=config.getoption("--cxpay-race-examples"),
        share=Share(shard, shards),
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
            workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
            key = _merchant(config.getoption("--cxpay-api-key") or os.environ.get("CXPAY_API_KEY"),
                            "--cxpay-api-key", workers)
            if not key:
                raise pytest.UsageError("--cxpay-base-url needs --cxpay-api-key (or CXPAY_API_KEY)")
            second = _merchant(config.getoption("--cxpay-second-api-key") or os.environ.get("CXPAY_SECOND_API_KEY"),
                               "--cxpay-second-api-key", workers)
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
