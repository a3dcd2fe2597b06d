"""A read-back sends its GETs at once (``ConformanceMachine.read_all``) where the adapter allows it,
and changes nothing else: the same examples, requests, checks and story as one GET at a time."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from cxpay_conformance.server import ServerConfig
from cxpay_conformance.server.runner import run_in_thread
from cxpay_conformance.suite import HttpAdapter, SuiteConfig, SuiteResult, run_suite
from cxpay_conformance.suite.preflight import adapter_for, check_options
from tests.suite.conftest import without_ids


class Watched(HttpAdapter):
    """The HTTP adapter, noting the threads its requests came from."""

    threads: set[str]

    def perform(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.add(threading.current_thread().name)
        return super().perform(*args, **kwargs)


class OneAtATime:
    """The HTTP adapter without ``concurrent_reads``: every request from the suite's thread."""

    def __init__(self, inner: HttpAdapter) -> None:
        self.inner, self.api_key = inner, inner.api_key

    def perform(self, *args: Any, **kwargs: Any) -> Any:
        assert threading.current_thread() is threading.main_thread()
        return self.inner.perform(*args, **kwargs)

    def close(self) -> None:
        self.inner.close()


def _both(tmp_path: Path, faults: frozenset[str], **options: Any) -> tuple[SuiteResult, SuiteResult, set[str]]:
    results = []
    threads: set[str] = set()
    for concurrent in (True, False):
        with run_in_thread(ServerConfig(log_requests=False, faults=faults)) as running:
            config = SuiteConfig(base_url=running.base_url, api_key=running.api_keys[0],
                                 second_api_key=running.api_keys[1], database=None, settle_timeout=0.0,
                                 race_examples=0, report_dir=str(tmp_path), **options)
            plain = adapter_for(config, check_options(config).contract)
            adapter: Any
            if concurrent:
                adapter = Watched(plain.base_url, plain.api_key, plain.contract, key_labels=plain.key_labels)
                adapter.threads = threads
                plain.close()
            else:
                adapter = OneAtATime(plain)
            results.append(run_suite(config, adapter=adapter))
    return results[0], results[1], threads


def test_a_run_reads_back_at_once_and_does_the_same_work(tmp_path: Path) -> None:
    at_once, one_by_one, threads = _both(tmp_path, frozenset(), seed=3, max_examples=6, max_steps=10)
    assert at_once.conformant and one_by_one.conformant
    assert any(name.startswith("cxpay-read-back") for name in threads), threads
    assert (at_once.examples, at_once.steps, at_once.requests) == (
        one_by_one.examples, one_by_one.steps, one_by_one.requests)
    assert at_once.checks_run == one_by_one.checks_run


def test_a_failing_story_has_its_requests_in_the_same_order(tmp_path: Path) -> None:
    at_once, one_by_one, _ = _both(tmp_path, frozenset({"last_payment_error_missing"}),
                                   seed=2, max_examples=20, max_steps=8)
    assert at_once.failure is not None and one_by_one.failure is not None
    sent = [[(e.operation_id, without_ids(e.path)) for e in r.exchanges] for r in (at_once, one_by_one)]
    assert sent[0] == sent[1]
    assert without_ids(str(at_once.failure)) == without_ids(str(one_by_one.failure))
