"""Record the corpus's regression traces: ``run --record`` against the embedded sandbox with one
fault of the catalogue (docs/faults.md) each, a small sequential run with a fixed seed. The run
finds the fault (exit 1), and its trace is kept: ``check-trace`` on it fails at the line where
the fault shows, as it will on a trace of any implementation with that bug. Only the lines up
to that one are kept (the rest is the run shrinking its failure: replays of the same story), so
that the corpus stays small; ``tests/trace/test_trace_corpus.py`` checks each still fails there.

    .venv/bin/python tests/traces/record.py            # rewrite every trace of the corpus
    .venv/bin/python tests/traces/record.py FAULT...   # only these
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from cxpay_conformance.embedded import embedded_server
from cxpay_conformance.trace import TraceChecker

HERE = Path(__file__).resolve().parent
#: fault -> the run that finds it (small: the trace is committed).
CASES = {
    "pay_answers_stale_intent": ["--seed", "1", "--max-examples", "3"],
    "mistyped_event_type": ["--seed", "1", "--max-examples", "30"],
    "expiry_not_enforced": ["--seed", "1", "--max-examples", "30"],
}
RUN = ["run", "--profile", "quick", "--phases", "sequential", "--shrink-budget", "5", "--example-db", "none"]


def record(fault: str) -> Path:
    path = HERE / "regressions" / f"{fault}.jsonl"
    path.parent.mkdir(exist_ok=True)
    with embedded_server((fault,)) as server, tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [sys.executable, "-c", "from cxpay_conformance.cli import main; main()", *RUN, *CASES[fault],
             "--base-url", server.base_url, "--api-key", server.api_key, "--second-api-key", server.second_api_key,
             "--record", str(path), "--report-dir", scratch], capture_output=True, text=True, check=False)
    if done.returncode != 1:
        raise SystemExit(f"{fault}: the run did not find the fault (exit {done.returncode}):\n{done.stdout[-2000:]}")
    violation = TraceChecker.load().check_file(path).violation
    if violation is None:
        raise SystemExit(f"{fault}: the run found the fault, but its trace checks clean")
    lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines(): U+2028 may be in a string
    path.write_text("\n".join(lines[:violation.line]) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(CASES):
        written = record(name)
        print(f"{written.relative_to(HERE.parent.parent)}: {sum(1 for _ in written.open())} lines")
