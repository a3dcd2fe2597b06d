"""How the suite's wall time grows with the number of examples, at a fixed number of steps.

Each size runs with the same seed against a fresh embedded reference server (loopback), a few
times; the table gives the median and range of the wall time, the CPU time of the process,
and the time per example. A straight-line fit of the medians, ``a + b * examples``, separates
the fixed cost of a run (loading the spec, starting the webhook receiver) from the cost of
an example.

    python benchmarks/scaling.py                          # 10, 20, 40, 80 examples x 25 steps
    python benchmarks/scaling.py --sizes 10,20,40 --steps 40 --reps 2
"""

from __future__ import annotations

import argparse
import statistics

from _harness import MODES, SEED, STEPS, footer, run_suite_once, spread, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,20,40,80", help="examples per run, comma-separated")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--reps", type=int, default=3, help="runs per size (default 3)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--mode", default="loopback", choices=MODES)
    args = parser.parse_args()

    sizes = [int(size) for size in args.sizes.split(",")]
    run_suite_once(args.mode, seed=args.seed, examples=2, steps=5)  # warm up imports and caches
    rows, medians = [], []
    for size in sizes:
        runs = [run_suite_once(args.mode, seed=args.seed, examples=size, steps=args.steps)
                for _ in range(args.reps)]
        wall = spread([r.seconds for r in runs])
        medians.append(wall.median)
        first = runs[0]
        rows.append([size, first.examples, first.steps, first.requests, wall.show(2, " s"),
                     spread([r.cpu for r in runs]).show(2, " s"),
                     f"{1000 * wall.median / first.examples:.0f} ms",
                     f"{first.steps / wall.median:.0f}"])
        print(f"  {size} examples: done", flush=True)
    print()
    print(f"Wall time against examples ({args.mode}), seed {args.seed}, up to {args.steps} steps "
          f"per example, {args.reps} runs per size: median (min-max)")
    print()
    print(table(["examples asked", "examples run", "steps", "requests", "wall time", "CPU time",
                 "wall per example", "steps/s"], rows))
    if len(sizes) >= 2:
        slope, intercept = statistics.linear_regression(sizes, medians)
        print()
        print(f"Fit of the medians: wall = {intercept:.2f} s + {1000 * slope:.0f} ms x examples")
    print()
    print(footer())


if __name__ == "__main__":
    main()
