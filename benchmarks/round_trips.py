"""Where a run's requests go, and how many of them wait on each other.

Runs the suite once on loopback (the embedded reference server) and counts, per operation, the
requests the adapter sent and those sent from the suite's own thread; a read-back that sends
several GETs at once (``ConformanceMachine.read_all``) counts as one round of them. The
sequential round trips (requests from the suite's thread, plus those rounds) are what a run
waits for behind a network: at a 20 ms round trip, each costs 20 ms.

    python benchmarks/round_trips.py                       # quick's shape, seed 1234
    python benchmarks/round_trips.py --examples 150 --steps 40
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import EXAMPLES, SEED, STEPS, adapter_for, footer, fresh_server, table

from cxpay_conformance.suite import SuiteConfig, run_suite
from cxpay_conformance.suite.machine import ConformanceMachine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=EXAMPLES)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    sent: Counter[str] = Counter()
    from_suite: Counter[str] = Counter()
    rounds = [0, 0]  # read-backs of two or more GETs at once, and their GETs
    read_all = ConformanceMachine.read_all

    def counted_read_all(machine: ConformanceMachine, keys: list[str]) -> Any:
        if len(keys) > 1:
            rounds[0] += 1
            rounds[1] += len(keys)
        return read_all(machine, keys)

    setattr(ConformanceMachine, "read_all", counted_read_all)  # noqa: B010 (mypy: a method replaced)
    with fresh_server("loopback") as target:
        adapter = adapter_for(target)
        perform = adapter.perform

        def counted(operation_id: str, *rest: Any, **options: Any) -> Any:
            sent[operation_id] += 1
            if threading.current_thread() is threading.main_thread():
                from_suite[operation_id] += 1
            return perform(operation_id, *rest, **options)

        adapter.perform = counted  # type: ignore[method-assign]
        result = run_suite(SuiteConfig(base_url=target.base_url, api_key=target.api_key,
                                       second_api_key=target.second_api_key, seed=args.seed,
                                       max_examples=args.examples, max_steps=args.steps, database=None,
                                       race_examples=0), adapter=adapter)
    setattr(ConformanceMachine, "read_all", read_all)  # noqa: B010
    rows = [[operation, count, from_suite[operation]] for operation, count in sent.most_common()]
    sequential = sum(from_suite.values()) + rounds[0]
    print(table(["operation", "requests", "from the suite's thread"], rows))
    print()
    print(f"{result.examples} examples, {result.steps} steps, {sum(sent.values())} requests to the adapter; "
          f"{sequential} sequential round trips ({rounds[0]} read-backs of several GETs at once carried "
          f"{rounds[1]}); {sequential / max(1, result.steps):.2f} round trips a step")
    print(footer())


if __name__ == "__main__":
    main()
