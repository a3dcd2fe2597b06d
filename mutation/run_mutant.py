"""The test command of the mutation run: the conformance suite against the embedded reference
server of the repository copy this file sits in, with a fixed seed and a bounded profile.

Cosmic Ray applies one mutant to a server file of that copy and runs this script; the exit code
is the verdict: 0 the suite found nothing (the mutant survived), 1 a check failed (killed),
3 the mutated server did not start or stopped answering (killed, reported as a crash). The one
line it prints says which check killed the mutant, so the report can count kills per check.

It imports the package from the copy it lives in, never from an installed one (an editable
install of the working tree would test the unmutated code and let every mutant "survive"),
and refuses to run if that is not so.

    python3 mutation/run_mutant.py --seed 1 --profile quick
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXIT_SURVIVED, EXIT_KILLED, EXIT_CRASHED, EXIT_USAGE = 0, 1, 3, 2


def _imported_from_this_copy() -> bool:
    import cxpay_conformance

    return Path(cxpay_conformance.__file__).resolve().is_relative_to(ROOT)


def _cosmic_ray_exception() -> None:
    """Cosmic Ray's ExceptionReplacer turns ``except KeyError`` into ``except
    CosmicRayTestingException``, a name that exists only inside Cosmic Ray; defined here, the
    mutant means what the operator intends (the handler no longer catches) instead of raising
    NameError."""
    import builtins

    builtins.CosmicRayTestingException = type(  # type: ignore[attr-defined]
        "CosmicRayTestingException", (Exception,), {})


def _without_shrinking() -> None:
    """Drop Hypothesis's shrink phase: a mutant is killed by the first failure found, and
    shrinking that failure to the shortest story costs time and changes no verdict."""
    from hypothesis import Phase, settings

    from cxpay_conformance.suite import runner

    original = runner._settings

    def settings_without_shrink(config: object, examples: int) -> settings:
        chosen = original(config, examples)  # type: ignore[arg-type]
        return settings(chosen, phases=tuple(p for p in chosen.phases if p is not Phase.shrink))

    runner._settings = settings_without_shrink  # type: ignore[assignment]


@contextmanager
def _server(store: str) -> Iterator[Any]:
    """The embedded reference server of this copy, keeping its objects in memory (what the score
    uses) or in an SQLite file (whose commit awaits a worker thread while the request holds its
    Idempotency-Key and the merchant's lock: the only way a concurrent request finds a key in
    flight in the correct server)."""
    from cxpay_conformance.embedded import EmbeddedServer, embedded_server

    if store == "memory":
        with embedded_server() as server:
            yield server
        return
    from cxpay_conformance.server import ServerConfig, run_in_thread

    with tempfile.TemporaryDirectory(prefix="cxpay-mutant-") as scratch:
        config = ServerConfig(log_requests=False, db_path=str(Path(scratch) / "sandbox.sqlite3"))
        with run_in_thread(config) as running:
            yield EmbeddedServer(running.base_url, running.api_keys[0], running.api_keys[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="Hypothesis seed (default 1)")
    parser.add_argument("--profile", default="quick", help="suite profile (default quick)")
    parser.add_argument("--max-examples", type=int, help="override the profile's examples")
    parser.add_argument("--max-steps", type=int, help="override the profile's steps")
    parser.add_argument("--race-examples", type=int,
                        help="test cases of the concurrent phase (default: the profile's; quick has none)")
    parser.add_argument("--phases", help="comma-separated phases to run (default: all, as the suite's run)")
    parser.add_argument("--store", choices=("memory", "sqlite"), default="memory",
                        help="the embedded server's store (default memory)")
    parser.add_argument("--shrink", action="store_true", help="keep Hypothesis's shrink phase")
    args = parser.parse_args(argv)

    if not _imported_from_this_copy():
        print(f"cxpay_conformance is not imported from {ROOT}; refusing to give a verdict")
        return EXIT_USAGE
    _cosmic_ray_exception()
    if not args.shrink:
        _without_shrinking()

    from cxpay_conformance.suite import SuiteConfig, run_suite

    started = time.monotonic()
    try:
        with _server(args.store) as server:
            config = SuiteConfig.for_embedded(
                server,
                seed=args.seed,
                profile=args.profile,
                max_examples=args.max_examples,
                max_steps=args.max_steps,
                database=None,
                race_examples=args.race_examples,
                **({"phases": tuple(args.phases.split(","))} if args.phases else {}),
            )
            result = run_suite(config)
    except Exception as exc:  # the mutated server broke the run itself (import, start, protocol)
        print(f"KILLED by crash: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        return EXIT_CRASHED
    elapsed = time.monotonic() - started
    covered = sum(c.transitions_hit for c in result.coverage.per_object())
    total = sum(c.transitions_total for c in result.coverage.per_object())
    summary = (f"{result.examples} examples, {result.steps} steps, {result.requests} requests, "
               f"{result.races} concurrent histories, {covered}/{total} transitions, {elapsed:.1f}s")
    if result.failure is None:
        print(f"SURVIVED: {summary}")
        return EXIT_SURVIVED
    message = " ".join(str(result.failure).split())[:400]
    print(f"KILLED by {result.failure.check}: {message} ({summary})")
    return EXIT_KILLED


if __name__ == "__main__":
    sys.exit(main())
