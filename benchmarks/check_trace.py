"""Checking a run's trace against the run itself: issue 14's bar that ``check-trace`` on the trace
of a ``ci`` run takes less time than the run took.

Each repetition runs ``cxpay-conformance run --profile PROFILE --seed S --record FILE`` against
the embedded sandbox (both phases, webhooks, as a user would), then ``cxpay-conformance
check-trace FILE``, each in a process of its own, and prints the wall time of both commands (the
process from start to exit: starting Python and loading the spec included) and the time the
checker itself reports (checking the records read; reading and validating the file excluded).
The run must be CONFORMANT and the trace clean, or the benchmark says so and exits 1.

    python benchmarks/check_trace.py                      # ci profile, 3 repetitions
    python benchmarks/check_trace.py --profile quick --reps 1 --examples 5
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import footer, table

CLI = [sys.executable, "-c", "from cxpay_conformance.cli import main; main()"]


def timed(args: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, check=False)
    return time.perf_counter() - started, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="ci", choices=("quick", "ci", "thorough"))
    parser.add_argument("--examples", type=int, default=None, help="examples (default: the profile's)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions, each with seed + its index (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    rows, failed = [], False
    for rep in range(options.reps):
        seed = options.seed + rep
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            trace = folder / "run.trace.jsonl"
            run = ["run", "--profile", options.profile, "--seed", str(seed), "--record", str(trace),
                   "--report-dir", str(folder / "report"), "--example-db", "none"]
            if options.examples is not None:
                run += ["--max-examples", str(options.examples)]
            run_seconds, ran = timed(run, folder)
            check_seconds, checked = timed(["check-trace", str(trace)], folder)
            lines = sum(1 for _ in trace.open(encoding="utf-8"))
            megabytes = trace.stat().st_size / 1e6
        own = re.search(r"checked in ([0-9.]+)s: (\w+)", checked.stdout)
        if ran.returncode != 0 or checked.returncode != 0 or own is None:
            failed = True
            print(f"seed {seed}: run exit {ran.returncode}, check-trace exit {checked.returncode}\n"
                  f"{ran.stdout[-1500:]}\n{checked.stdout[-3000:]}{checked.stderr[-1500:]}", file=sys.stderr)
            continue
        rows.append([seed, lines, f"{megabytes:.1f}", f"{run_seconds:.1f}", f"{check_seconds:.2f}", own.group(1),
                     f"{check_seconds / run_seconds:.3f}"])
    print(f"check-trace on the trace of `run --profile {options.profile}`"
          + (f" ({options.examples} examples)" if options.examples else "") + ", embedded sandbox:\n")
    print(table(["seed", "trace lines", "MB", "run (s, wall)", "check-trace (s, wall)", "checker's own (s)",
                 "check / run"], rows))
    print()
    print(footer())
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
