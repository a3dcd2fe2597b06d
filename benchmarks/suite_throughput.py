"""Steps and HTTP requests per second of the conformance suite against the reference server.

Runs the suite with a fixed seed against a fresh reference server per repetition, reached
over loopback (the embedded server, as ``cxpay-conformance run`` does with no URL) and
in-process (the same ASGI app behind :class:`_inprocess.ThreadedASGITransport`), and prints
the median and range of each. The wall time is the whole ``run_suite`` call, spec loading
included; starting the server is not.

    python benchmarks/suite_throughput.py                  # 30 examples x 25 steps, 5 runs each
    python benchmarks/suite_throughput.py --reps 3 --examples 60 --modes loopback
"""

from __future__ import annotations

import argparse

from _harness import footer, run_suite_once, spread, table, workload_arguments


def main() -> None:
    args = workload_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0])).parse_args()

    rows = []
    for mode in args.modes.split(","):
        run_suite_once(mode, seed=args.seed, examples=2, steps=5)  # warm up imports and caches
        runs = [run_suite_once(mode, seed=args.seed, examples=args.examples, steps=args.steps)
                for _ in range(args.reps)]
        first = runs[0]
        same = all((r.steps, r.requests) == (first.steps, first.requests) for r in runs)
        rows.append([
            mode, first.examples, first.steps if same else "varies", first.requests if same else "varies",
            spread([r.seconds for r in runs]).show(2, " s"),
            spread([r.cpu for r in runs]).show(2, " s"),
            spread([r.steps_per_second for r in runs]).show(0),
            spread([r.requests_per_second for r in runs]).show(0),
        ])
        print(f"  {mode}: done", flush=True)
    print()
    print(f"Suite throughput, seed {args.seed}, {args.examples} examples x {args.steps} steps, "
          f"{args.reps} runs each: median (min-max)")
    print()
    print(table(["target", "examples", "steps", "requests", "wall time", "CPU time",
                 "steps/s", "requests/s"], rows))
    print()
    print(footer())


if __name__ == "__main__":
    main()
