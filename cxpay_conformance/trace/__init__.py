"""Traces: recorded traffic held to the spec, offline.

``run --record`` and ``serve --record`` write every exchange and webhook as JSON Lines
(:mod:`.record`; the format is ``trace.schema.json``, explained in docs/traces.md).
``cxpay-conformance check-trace`` reads such traces, HAR files (:mod:`.har`) and pages of
``GET /events``, rebuilds the payments from the ids it sees and holds every answer, status
change and webhook to the model (:mod:`.check`); ``--follow URL`` checks a live event list as
it grows (:mod:`.follow`).

>>> from cxpay_conformance.trace import TraceChecker
>>> TraceChecker.load().check_file("run.trace.jsonl").ok
True
"""

from __future__ import annotations

from cxpay_conformance.trace.check import TraceChecker, TraceResult
from cxpay_conformance.trace.record import RecordingAdapter, TraceWriter
from cxpay_conformance.trace.violation import TraceViolation

__all__ = ["RecordingAdapter", "TraceChecker", "TraceResult", "TraceViolation", "TraceWriter"]
