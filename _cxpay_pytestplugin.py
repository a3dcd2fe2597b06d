"""The cxpay-conformance pytest plugin: run the conformance suite as pytest tests.

Opt in with ``--cxpay`` (the embedded reference server) or ``--cxpay-base-url URL
--cxpay-api-key KEY``. The suite is split into ``--cxpay-shards`` test items, each a share of
the run's seeded batches (the rule of ``run --workers`` and ``run --shard``: suite/shares.py), so
that ``pytest -n auto`` runs them in parallel and ``--junitxml`` reports each. By default one item
without pytest-xdist, and under it one per batch, as many as can run at once usefully. This
module is tiny on purpose: pytest loads it for every run, and it imports
the suite only when asked to run it.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

GROUP = "cxpay"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "CX Pay conformance suite")
    group.addoption("--cxpay", action="store_true", help="Run the CX Pay conformance suite (against the "
                    "embedded reference server unless --cxpay-base-url is given).")
    group.addoption("--cxpay-base-url", metavar="URL", help="The CX Pay implementation to test.")
    group.addoption("--cxpay-api-key", metavar="KEY", help="Secret key of the merchant to test as "
                    "[env: CXPAY_API_KEY].")
    group.addoption("--cxpay-second-api-key", metavar="KEY", help="Another merchant's key, to check tenant "
                    "isolation [env: CXPAY_SECOND_API_KEY].")
    group.addoption("--cxpay-spec", metavar="PATH", help="The spec file (default: the packaged one).")
    group.addoption("--cxpay-profile", default="ci", choices=("quick", "ci", "thorough"),
                    help="How hard to try, as `cxpay-conformance run --profile` (default: ci).")
    group.addoption("--cxpay-max-examples", type=int, metavar="N", help="Examples in all, over every shard.")
    group.addoption("--cxpay-max-steps", type=int, metavar="N", help="Steps per example.")
    group.addoption("--cxpay-phases", metavar="NAMES", default="sequential,concurrent",
                    help="Phases to run, comma-separated (default: sequential,concurrent).")
    group.addoption("--cxpay-race-examples", type=int, metavar="N",
                    help="Test cases of the concurrent phase in all, over every shard (default: the profile's).")
    group.addoption("--cxpay-race-repeats", type=int, default=3, metavar="N",
                    help="Runs of each concurrent test case (default: 3).")
    group.addoption("--cxpay-seed", type=int, metavar="N", help="Seed (default: random, shown in the report).")
    group.addoption("--cxpay-shards", type=int, default=None, metavar="N",
                    help="Test items to split the run's batches into (default: 1, and under pytest -n one per "
                    "batch of the run); the examples are the same whatever N is.")
    group.addoption("--cxpay-checks", metavar="NAMES", help="Only these checks, comma-separated.")
    group.addoption("--cxpay-skip-checks", metavar="NAMES", help="Skip these checks, comma-separated.")
    group.addoption("--cxpay-webhook-host", metavar="HOST", help="Address the implementation reaches the receiver at.")
    group.addoption("--cxpay-shrink-budget", type=float, metavar="SECONDS",
                    help="Stop shrinking a failure after this long (default: Hypothesis's own cap, 5 minutes).")
    group.addoption("--cxpay-traces", metavar="DIR", help="Check every trace file in DIR (run/serve --record "
                    "traces, HAR files, pages of GET /events) as a test item: it passes when the file checks clean, "
                    "as `cxpay-conformance check-trace` would.")
    group.addoption("--cxpay-example-db", metavar="WHERE", help="Where failing examples are kept and tried first "
                    "by later runs: a folder (default .hypothesis/cxpay), redis://HOST:PORT/N (shared by every "
                    "shard, worker and CI job that names it; the [redis] extra), or none.")


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("--cxpay") or config.getoption("--cxpay-base-url"))


def pytest_configure(config: pytest.Config) -> None:
    if _enabled(config) and not hasattr(config, "_cxpay_seed"):
        chosen = config.getoption("--cxpay-seed")
        # xdist workers must agree on the seed: the controller passes it through workerinput.
        worker = getattr(config, "workerinput", None)
        config._cxpay_seed = (worker or {}).get("cxpay_seed", chosen if chosen is not None  # type: ignore[attr-defined]
                                               else random.SystemRandom().randrange(2**32))


# optionalhook: pytest-xdist's hook, which pytest refuses as unknown where xdist is not installed.
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # on the xdist controller
    node.workerinput["cxpay_seed"] = getattr(node.config, "_cxpay_seed", None)


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _enabled(config):
        return None
    target = config.getoption("--cxpay-base-url") or "the embedded reference server"
    return f"cxpay: testing {target}; seed {config._cxpay_seed} (rerun with --cxpay-seed {config._cxpay_seed})"  # type: ignore[attr-defined]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    traces = config.getoption("--cxpay-traces")
    if traces:
        from cxpay_conformance._pytest_traces import trace_files
        from cxpay_conformance.errors import UsageError

        try:
            files = trace_files(traces)
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from None
        items.extend(CXPayTraceItem.from_parent(session, name=f"cxpay_trace[{path.relative_to(traces)}]", path=path)
                     for path in files)
    if not _enabled(config):
        return
    shards = config.getoption("--cxpay-shards")
    if shards is None:
        from cxpay_conformance._pytest_support import useful_shards

        # Under xdist every item is a unit of work for its scheduler: one per batch balances the
        # load; without it the items run one after another, and one does the least work again.
        shards = useful_shards(config) if hasattr(config, "workerinput") else 1
    shards = max(1, shards)
    for index in range(shards):
        items.append(CXPayItem.from_parent(session, name=f"cxpay_conformance[shard-{index + 1}-of-{shards}]",
                                           shard=index, shards=shards))


class CXPayItem(pytest.Item):
    """One shard of the conformance suite."""

    def __init__(self, *, shard: int, shards: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard, self.shards = shard, shards
        self.result: Any = None

    def runtest(self) -> None:
        from cxpay_conformance._pytest_support import run_shard

        self.result = run_shard(self.config, self.shard, self.shards)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from cxpay_conformance._pytest_support import describe_failure

        return describe_failure(self.result, excinfo.value)

    def reportinfo(self) -> tuple[str, int, str]:
        return "cxpay-conformance", 0, self.name


class CXPayTraceItem(pytest.Item):
    """One trace file of ``--cxpay-traces DIR``: passes when it checks clean."""

    def runtest(self) -> None:
        from cxpay_conformance._pytest_traces import check_trace

        check_trace(self.path, self.config.getoption("--cxpay-spec"))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from cxpay_conformance._pytest_traces import TraceViolated

        if isinstance(excinfo.value, TraceViolated):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)  # type: ignore[arg-type]

    def reportinfo(self) -> tuple[str, int, str]:
        return str(self.path), 0, self.name
