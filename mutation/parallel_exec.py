"""Run a Cosmic Ray session's pending mutants on several repository copies at once.

``cosmic-ray exec`` with the ``local`` distributor tests one mutant at a time, in the current
directory. This does the same work (Cosmic Ray's own ``mutate_and_test``, the config's test
command and timeout, results written to the same session database) with one worker process per
repository copy: each worker changes into its copy once and only ever mutates files there, so
two mutants never share a tree, and nothing listens on a socket (unlike the ``http``
distributor). Like ``cosmic-ray exec`` it runs only pending mutants, so an interrupted run
resumes where it stopped.

    python mutation/parallel_exec.py cosmic-ray.toml session.sqlite COPY_1 COPY_2
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import tomllib
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from typing import Any

from cosmic_ray.config import load_config
from cosmic_ray.mutating import mutate_and_test
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkResult


def _enter_copy(copies: Any) -> None:
    """Worker initializer: take a repository copy no other worker has, and work inside it.

    ``get`` with a timeout, not ``get_nowait``: the queue's feeder thread may not have passed the
    copies to the pipe yet when a worker starts, and ``get_nowait`` then raises Empty (it did)."""
    os.chdir(copies.get(timeout=60))


class _Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.survived, self.started = total, 0, 0, time.monotonic()

    def record(self, db: WorkDB, job_id: str, result: WorkResult) -> None:
        db.set_result(job_id, result)
        self.done += 1
        self.survived += result.test_outcome is TestOutcome.SURVIVED
        elapsed = time.monotonic() - self.started
        print(f"[{self.done}/{self.total}] {self.survived} survived, {elapsed:.0f}s, "
              f"~{elapsed / self.done * (self.total - self.done):.0f}s to go", flush=True)


def _judged(path: str) -> set[tuple[str, str, int]]:
    """The mutants a verdicts file calls equivalent or unkillable: no test run can kill them."""
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("mutant", [])
    return {(e["module"], e["operator"], int(e["occurrence"])) for e in entries
            if e.get("verdict") in ("equivalent", "unkillable")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("session")
    parser.add_argument("copies", nargs="+", help="one repository copy per worker")
    parser.add_argument("--survivors", action="store_true",
                        help="test again the mutants that survived (not the pending ones), e.g. on a copy of "
                             "the session with a deeper --test-command")
    parser.add_argument("--test-command", help="instead of the config's test command")
    parser.add_argument("--except-judged", metavar="VERDICTS_TOML",
                        help="with --survivors: leave out the mutants judged equivalent or unkillable there")
    parser.add_argument("--max-minutes", type=float, help="start no mutant after this long; the rest stays "
                        "pending for the next run (resume)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    test_command = args.test_command or config.test_command
    copies = multiprocessing.get_context("fork").Queue()
    for copy in args.copies:
        copies.put(os.path.abspath(copy))

    with use_db(args.session, WorkDB.Mode.open) as db:
        pending = ([item for item, result in db.completed_work_items if result.test_outcome is TestOutcome.SURVIVED]
                   if args.survivors else list(db.pending_work_items))
        if args.except_judged:
            judged = _judged(args.except_judged)
            pending = [item for item in pending if not any(
                (str(m.module_path), m.operator_name, m.occurrence) in judged for m in item.mutations)]
        print(f"{len(pending)} mutants to test on {len(args.copies)} copies", flush=True)
        progress = _Progress(len(pending))
        with ProcessPoolExecutor(len(args.copies), mp_context=multiprocessing.get_context("fork"),
                                 initializer=_enter_copy, initargs=(copies,)) as pool:
            running: dict[Future[WorkResult], str] = {}
            stop_at = time.monotonic() + 60 * args.max_minutes if args.max_minutes else None
            for item in pending:  # one mutant per worker in flight, so none waits in a queue
                if stop_at is not None and time.monotonic() >= stop_at:
                    print(f"time is up: {len(pending) - progress.done - len(running)} mutants stay pending; "
                          "run again to resume", flush=True)
                    break
                if len(running) == len(args.copies):
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        progress.record(db, running.pop(future), future.result())
                running[pool.submit(mutate_and_test, item.mutations, test_command,
                                    config.timeout)] = item.job_id
            for future in as_completed(running):
                progress.record(db, running[future], future.result())
    return 0


if __name__ == "__main__":
    sys.exit(main())
