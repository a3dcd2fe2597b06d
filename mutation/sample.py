"""Keep a uniform random sample of a session's pending mutants; mark the rest "not sampled".

For when the whole set would take too long: the sample is drawn with a fixed seed from the
pending mutants sorted by (module, operator, occurrence), so the same session and seed always
pick the same mutants. ``report.py`` leaves the unsampled ones out of every count and says so.

    python mutation/sample.py session.sqlite SIZE [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult

MARK = "not sampled"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("session")
    parser.add_argument("size", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with use_db(args.session, WorkDB.Mode.open) as db:
        items = sorted(db.pending_work_items, key=lambda item: [
            (str(m.module_path), m.operator_name, m.occurrence) for m in item.mutations])
        keep = {item.job_id for item in random.Random(args.seed).sample(items, min(args.size, len(items)))}
        dropped = [item.job_id for item in items if item.job_id not in keep]
        db.set_multiple_results(dropped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=MARK))
    print(f"sampled {len(keep)} of {len(items)} pending mutants (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
