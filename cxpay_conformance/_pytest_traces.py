"""What the pytest plugin does with ``--cxpay-traces DIR``: each trace file of the folder is a test
item that passes when the file checks clean (``cxpay-conformance check-trace``), and fails with
the violation as check-trace prints it. Kept out of the plugin so pytest loads it lazily."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cxpay_conformance.errors import UsageError
from cxpay_conformance.trace import TraceChecker

#: The files of a folder that are traces: run/serve --record's JSON Lines, HAR files, pages of GET /events.
SUFFIXES = (".jsonl", ".har", ".json")


class TraceViolated(AssertionError):
    """A trace of the corpus breaks the spec; the message is check-trace's report."""


def trace_files(folder: str) -> list[Path]:
    """The trace files under ``folder``, sorted (a UsageError when it is no folder)."""
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"--cxpay-traces {folder}: no such folder; give a folder of trace files "
                         f"({', '.join(SUFFIXES)})")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))


@cache
def _checker(spec: str | None) -> TraceChecker:
    return TraceChecker.load(spec)


def check_trace(path: Path, spec: str | None) -> str:
    """Check one file; its summary when clean, :class:`TraceViolated` (the report) when not."""
    try:
        result = _checker(spec).check_file(path)
    except UsageError as exc:
        raise TraceViolated(f"{path}: cannot be checked: {exc}") from None
    if result.violation is not None:
        raise TraceViolated(result.violation.render())
    return result.summary()
