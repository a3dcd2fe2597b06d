"""check-trace's engine: read traces, HAR files and pages of ``GET /events``, and hold every line
to the model, to the end.

:func:`check_file` reads one file (:mod:`.sources`) and replays it, in the order things
happened (an exchange by the time it was sent, a webhook by the time it came), through
:class:`~.steps.Steps`. Requests that overlapped in time may have been served in any order that
respects real time: each such order is tried, and the trace is explained if one order explains
it (as the suite's ``linearizability`` check does for its concurrent phase). Pages of
``GET /events`` show no requests: what happened is inferred from the events (:mod:`.explain`),
and every way to explain them so far is kept until the events tell them apart. The whole file
must be consumed: the first line that no behaviour of the spec explains is the violation, with
the file and line, the payment and its story up to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cxpay_conformance.spec import Spec, load_spec
from cxpay_conformance.suite import checks
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.trace.explain import explain
from cxpay_conformance.trace.records import EVENT_LIST_MERCHANT, Heard, Record, Seen
from cxpay_conformance.trace.sources import read_file
from cxpay_conformance.trace.state import TraceState
from cxpay_conformance.trace.steps import Steps
from cxpay_conformance.trace.violation import TraceViolation, Violated

#: The most requests performed on the model while searching the orders of one group of overlapping requests.
MAX_ORDER_STEPS = 20000
#: How many records are checked between two calls of a progress callback.
PROGRESS_EVERY = 500
#: A progress callback: (records checked, records in the file).
Progress = Callable[[int, int], None]
#: The most ways of explaining the trace so far that are kept side by side.
MAX_ALTERNATIVES = 64


@dataclass(frozen=True)
class TraceResult:
    """What checking one file found: counts, and the violation (None when it checked clean)."""

    file: str
    exchanges: int
    events: int
    payments: int
    seconds: float
    violation: TraceViolation | None = None

    @property
    def ok(self) -> bool:
        return self.violation is None

    def summary(self) -> str:
        verdict = "clean" if self.ok else f"VIOLATION at line {self.violation.line}" if self.violation else ""
        return (f"{self.file}: {self.exchanges} exchanges, {self.events} events, {self.payments} payments "
                f"checked in {self.seconds:.2f}s: {verdict}")


class TraceChecker:
    """Checks traces against one spec and its contract.

    >>> checker = TraceChecker.load()            # the packaged spec
    >>> checker.check_file("run.trace.jsonl").ok
    True
    """

    def __init__(self, spec: Spec, contract: OpenAPIContract) -> None:
        self.spec = spec
        self.contract = contract
        self.steps = Steps(spec, contract)

    @classmethod
    def load(cls, spec_path: str | Path | None = None) -> TraceChecker:
        spec = load_spec(spec_path)
        return cls(spec, OpenAPIContract.load(spec.openapi_path))

    def new_state(self) -> TraceState:
        return TraceState(self.spec, self.steps.machines)

    def check_file(self, path: str | Path, progress: Progress | None = None) -> TraceResult:
        """Read and check one file. Raises :class:`~cxpay_conformance.errors.UsageError` for a file
        that cannot be read or breaks its format. ``progress(done, total)`` hears of the records
        checked, every :data:`PROGRESS_EVERY`."""
        return self.check_records(str(path), read_file(path), progress)

    def check_records(self, name: str, records: Sequence[Record], progress: Progress | None = None) -> TraceResult:
        started = time.monotonic()
        exchanges = sum(isinstance(r, Seen) for r in records)
        events = len(records) - exchanges
        states = [self.new_state()]
        violation = None
        try:
            states = self.replay(states, records, progress)
            states = self.close(states, records)
        except Violated as stop:
            violation = stop.violation
        payments = max((sum(len(m.worlds) for m in s.merchants.values()) for s in states), default=0)
        return TraceResult(name, exchanges, events, payments, time.monotonic() - started, violation)

    # --- replaying --------------------------------------------------------------------------------

    def replay(self, states: list[TraceState], records: Sequence[Record],
               progress: Progress | None = None) -> list[TraceState]:
        """Every state that explains ``records`` after ``states`` (raises :class:`Violated` when none does)."""
        ordered = sorted(records, key=lambda r: (r.started if isinstance(r, Seen) else r.at, r.line))
        index = told = 0
        while index < len(ordered):
            if progress is not None and index - told >= PROGRESS_EVERY:
                told = index
                progress(index, len(ordered))
            record = ordered[index]
            if isinstance(record, Heard):
                states = self.each(states, lambda st, r=record: self.hear(st, r))  # type: ignore[misc]
                index += 1
                continue
            group, deferred, end = [record], [], record.ended
            index += 1
            while index < len(ordered):
                other = ordered[index]
                if isinstance(other, Heard):
                    if other.at >= end:
                        break
                    deferred.append(other)
                elif other.started < end:
                    group.append(other)
                    end = max(end, other.ended)
                else:
                    break
                index += 1
            states = self.group(states, group)
            for heard in deferred:
                states = self.each(states, lambda st, r=heard: self.hear(st, r))  # type: ignore[misc]
        if progress is not None:
            progress(len(ordered), len(ordered))
        return states

    def hear(self, st: TraceState, heard: Heard) -> list[TraceState]:
        if heard.merchant == EVENT_LIST_MERCHANT:
            return explain(self.steps, st, heard)
        self.steps.hear(st, heard)
        return [st]

    def each(self, states: list[TraceState], step: Callable[[TraceState], list[TraceState]]) -> list[TraceState]:
        """``step`` on every state; the states it explains (the first one's violation when none).
        Where one state is explained more than one way (an event list's steps inferred), the ways
        that lead to the same state are kept once."""
        survivors: list[TraceState] = []
        first: Violated | None = None
        for state in states:
            _untouch(state)
            try:
                found = step(state)
            except Violated as stop:
                first = first or stop
                continue
            survivors.extend(_distinct(found) if len(found) > 1 else found)
            if len(survivors) >= MAX_ALTERNATIVES:
                break
        if not survivors:
            assert first is not None
            raise first
        return survivors[:MAX_ALTERNATIVES]

    def group(self, states: list[TraceState], group: list[Seen]) -> list[TraceState]:
        """Requests that overlapped in time: the orders that respect real time are searched, depth
        first, the recorded order first; an order whose first requests the model cannot explain is
        dropped with every order that starts the same way, and a state reached twice with the same
        requests left is searched once. The violation reported is the one of the order that went
        furthest."""
        if len(group) == 1:
            only = group[0]
            return self.each(states, lambda st: self.one(st, only))
        search = _OrderSearch(self.steps, group)
        for state in states:
            search.run(state)  # the survivors of one state are told apart by the search itself
            if len(search.survivors) >= MAX_ALTERNATIVES:
                break
        if not search.survivors:
            assert search.deepest is not None
            raise search.deepest
        return search.survivors[:MAX_ALTERNATIVES]

    def one(self, st: TraceState, seen: Seen) -> list[TraceState]:
        self.steps.exchange(st, seen)
        return [st]

    def close(self, states: list[TraceState], records: Sequence[Record]) -> list[TraceState]:
        """At the end of a complete event list, every event the model owes must have been listed."""
        closing = [r for r in records if isinstance(r, Heard) and r.how == "listed-end"]
        if not closing:
            return states
        last = closing[-1]

        def nothing_owed(st: TraceState) -> list[TraceState]:
            m = st.merchants.get(EVENT_LIST_MERCHANT)
            if m is not None and m.pending:
                head = m.pending[0]

                raise self.steps.fail(st, last, checks._failure(
                    "event_list", f"GET /events ends (has_more: false) without {len(m.pending)} event(s) the model "
                    f"owes: {', '.join(f'{e.type} for {m.ids.get(e.ref, e.ref[1])}' for e in m.pending[:5])}",
                    event="list events", expected=[e.type for e in m.pending], observed="the end of the list"),
                    (m, head.ref[0]))
            return [st]

        return self.each(states, nothing_owed)


class _OrderSearch:
    """The depth-first search of :meth:`TraceChecker.group` over the orders of overlapping requests."""

    def __init__(self, steps: Steps, group: list[Seen]) -> None:
        self.steps = steps
        self.group = group
        self.survivors: list[TraceState] = []
        self.deepest: Violated | None = None
        self.depth = -1
        self.nodes = 0
        self.visited: set[tuple[frozenset[int], str]] = set()
        self.keys = sorted({seen.idempotency_key for seen in group if seen.idempotency_key is not None})

    def run(self, state: TraceState) -> None:
        _untouch(state)
        self.visited = set()
        self._extend(state, tuple(range(len(self.group))), 0)

    def _extend(self, state: TraceState, left: tuple[int, ...], depth: int) -> None:
        if not left:
            self.survivors.append(state)
            return
        for index in left:
            if len(self.survivors) >= MAX_ALTERNATIVES or self.nodes >= MAX_ORDER_STEPS:
                return
            seen = self.group[index]
            if any(self.group[other].ended < seen.started for other in left if other != index):
                continue  # another request ended before this one was sent: it comes first
            self.nodes += 1
            trial = state.copy()
            try:
                self.steps.exchange(trial, seen)
            except Violated as stop:
                if depth > self.depth:
                    self.deepest, self.depth = stop, depth
                continue
            rest = tuple(other for other in left if other != index)
            mark = (frozenset(rest), _mark(trial, self.keys))
            if mark in self.visited:
                continue
            self.visited.add(mark)
            self._extend(trial, rest, depth + 1)


def _untouch(state: TraceState) -> None:
    """Start noting, from here, which worlds change (what :func:`_mark` spells out)."""
    for m in state.merchants.values():
        m.touched = set()


def _mark(state: TraceState, keys: Iterable[str] = ()) -> str:
    """What tells apart two states reached from one state (after :func:`_untouch`): the worlds they
    changed, with the ids bound to their objects; the webhooks owed; the first answers under
    ``keys``; the counts of ids, keys and events noted."""
    parts = []
    for label, m in sorted(state.merchants.items()):
        worlds = [(p, m.worlds[p].now, sorted((k, o.state, o.card, m.ids.get((p, k)), repr(o.fields))
                                             for k, o in m.worlds[p].objects.items()))
                  for p in sorted(m.touched)]
        answers = [(k, m.keys[k].status, repr(m.keys[k].answer)) for k in keys if k in m.keys]
        parts.append((label, m.now, worlds, len(m.ids), [(e.type, e.ref) for e in m.pending], answers,
                      len(m.keys), sorted(m.endpoints.items()), m.accepted_key, m.refused_key))
    return repr((parts, len(state.events), len(state.owner)))


def _distinct(states: list[TraceState]) -> list[TraceState]:
    """``states`` (all reached from one state) without repeats."""
    kept, seen = [], set()
    for state in states:
        mark = _mark(state)
        if mark not in seen:
            seen.add(mark)
            kept.append(state)
    return kept
