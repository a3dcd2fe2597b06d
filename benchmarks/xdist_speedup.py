"""The speed-up of ``pytest -n 2`` over ``pytest -n 0`` for the conformance suite's pytest plugin.

Each run is a fresh ``pytest --cxpay`` process in a new temporary directory that holds one
empty test file, so the plugin's shards are the only tests: with ``-n 0`` they run one after
the other in one process, with ``-n 2`` in two pytest-xdist workers, each with its own
embedded reference server. Wall time is measured around the whole process (interpreter start,
plugin, servers), as a user or CI sees it.

The first rows run pytest without ``--cxpay`` on the same empty file: the fixed cost of
starting pytest, and of starting two xdist workers that each import the plugins again.

    python benchmarks/xdist_speedup.py                     # 30 and 120 examples, 3 runs each
    python benchmarks/xdist_speedup.py --examples 240 --reps 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import SEED, STEPS, footer, spread, table

WORKERS = ("0", "2")


def run_pytest(workers: str, examples: int | None, steps: int, seed: int, shards: int) -> float:
    """Wall seconds of one pytest run with ``-n workers`` (``examples`` None: without --cxpay)."""
    with tempfile.TemporaryDirectory(prefix="cxpay-xdist-") as folder:
        Path(folder, "test_nothing.py").write_text('"""No tests: the plugin adds its own."""\n')
        command = [sys.executable, "-m", "pytest", "-n", workers, "-q", "-p", "no:cacheprovider"]
        if examples is not None:
            command += ["--cxpay", "--cxpay-max-examples", str(examples), "--cxpay-max-steps",
                        str(steps), "--cxpay-seed", str(seed), "--cxpay-shards", str(shards)]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False)
        seconds = time.perf_counter() - started
    if done.returncode not in (0, 5):  # 5: no tests collected, as expected without --cxpay
        raise SystemExit(f"pytest -n {workers} failed ({done.returncode}):\n{done.stdout[-3000:]}"
                         f"\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", default="30,120",
                        help="examples over all shards, comma-separated sizes (default 30,120)")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--shards", type=int, default=2, help="--cxpay-shards (default 2)")
    parser.add_argument("--reps", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()

    rows = []
    for size in [None, *(int(n) for n in args.examples.split(","))]:
        times: dict[str, list[float]] = {workers: [] for workers in WORKERS}
        for _ in range(args.reps):  # alternate, so that a change in the machine's load hits both
            for workers in WORKERS:
                times[workers].append(run_pytest(workers, size, args.steps, args.seed, args.shards))
        what = "no --cxpay (startup)" if size is None else f"{size} examples"
        print(f"  {what}: done", flush=True)
        serial, parallel = (spread(times[w]) for w in WORKERS)
        paired = spread([s / p for s, p in zip(times["0"], times["2"], strict=True)])
        rows.append([what, serial.show(1, " s"), parallel.show(1, " s"),
                     f"{serial.median / parallel.median:.2f}", paired.show(2)])
    print()
    print(f"pytest --cxpay -n 0 against -n 2, {args.steps} steps per example, {args.shards} shards, "
          f"seed {args.seed}, {args.reps} runs each: median (min-max)")
    print()
    print(table(["run", "-n 0", "-n 2", "speed-up (medians)", "speed-up (paired runs)"], rows))
    print()
    print(footer())


if __name__ == "__main__":
    main()
