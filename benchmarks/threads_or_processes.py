"""Threads or processes for ``run --workers``: the two shares of one seed one after the other, in
two threads of one process, and in two processes (``run_workers``), against ``serve`` in a process
of its own (docs/scaling.md).

    python benchmarks/threads_or_processes.py [--examples 40] [--steps 25] [--reps 2]
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import replace

from _harness import _server_process, footer

from cxpay_conformance.suite import SuiteConfig, SuiteResult, run_suite
from cxpay_conformance.suite.preflight import preflight
from cxpay_conformance.suite.shares import Share
from cxpay_conformance.suite.workers import run_workers


def _run_into(config: SuiteConfig, results: list[SuiteResult]) -> None:
    results.append(run_suite(config))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    with _server_process(pairs=2) as target:
        (key, second), = target.more_merchants
        base = SuiteConfig(base_url=target.base_url, api_key=target.api_key, second_api_key=target.second_api_key,
                           seed=1234, max_examples=args.examples, max_steps=args.steps, race_examples=0,
                           database=None, report_dir="cxpay-report/threads-or-processes")
        shares = [replace(base, share=Share(0, 2)),
                  replace(base, share=Share(1, 2), api_key=key, second_api_key=second)]
        run_suite(replace(base, max_examples=2))  # the imports and the first connection, not measured
        for _ in range(args.reps):
            start, cpu = time.monotonic(), time.process_time()
            steps = sum(run_suite(config).steps for config in shares)
            print(f"one after the other: {time.monotonic() - start:.1f} s wall, "
                  f"{time.process_time() - cpu:.1f} s CPU, {steps} steps", flush=True)
            results: list[SuiteResult] = []
            start, cpu = time.monotonic(), time.process_time()
            threads = [threading.Thread(target=_run_into, args=(config, results)) for config in shares]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            print(f"2 threads: {time.monotonic() - start:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
                  f"{sum(r.steps for r in results)} steps, conformant {[r.conformant for r in results]}", flush=True)
            start = time.monotonic()
            merged = run_workers(replace(base, workers=2, more_merchants=((key, second),)), spec=preflight(base).spec)
            print(f"2 processes (run_workers): {time.monotonic() - start:.1f} s wall, {merged.steps} steps", flush=True)
    print(footer())


if __name__ == "__main__":  # the workers are spawned: they import this module, which must not run again
    main()
