"""Is a concurrent history linearizable? A search for one order of its calls that a model explains.

A history is the calls several branches sent at once, each with the time it was sent and the
time its answer came. :func:`check` looks for one order of them that respects real time (a
call that ended before another began comes first) and under which the model predicts every
observed answer, then the final read-back (:meth:`Model.finish`). It is the Wing & Gong search
as Lowe and Porcupine refined it: depth first over the calls not yet placed, the model's state
copied per candidate, a contradiction records a dead end (:class:`Refutation`) and backtracks,
and a (calls placed, state) pair that already failed is never searched again. When every call
names the payment it touches, each payment's calls are searched on their own (steps on unrelated
payments commute), which turns a product of interleavings into a sum. The search is bounded; a
bound hit is "cannot tell" (``linearizable is None``), never a failure. This module knows no
HTTP, no Hypothesis and no spec: the model is a :class:`Model` the caller brings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

S = TypeVar("S")

#: Dead ends kept for the story (every one is counted by reason, in :attr:`Verdict.reasons`).
KEPT_REFUTATIONS = 200
#: Distinct reasons counted one by one; the rest are counted together.
COUNTED_REASONS = 1000
_OTHER_REASONS = "(other reasons)"


@dataclass(frozen=True)
class Call:
    """One request of a concurrent history, as observed."""

    id: int  # unique within the history, for messages
    branch: int  # which concurrent branch sent it (0..3)
    start: float  # monotonic seconds when it was sent
    end: float  # monotonic seconds when its answer arrived
    partition: Hashable | None  # the payment it touches; None: it may touch every payment (a clock advance)
    label: str  # how a story names it, e.g. "branch 2, step 1: customer: pay cs_... with card_ok"
    short: str = ""  # how an order names it, e.g. "b2.1" (default: the label)

    @property
    def name(self) -> str:
        """How an order of calls names this one."""
        return self.short or self.label


class Model(Protocol[S]):
    """What :func:`check` needs of a model: its step, its final check and a fingerprint."""

    def step(self, state: S, call: Call) -> tuple[S, str | None]:
        """The state after ``call`` applied to ``state`` (never mutating ``state``), and None when
        the call's observed answer is what the model predicts in ``state``, else why not."""
        ...

    def finish(self, state: S, partition: Hashable | None) -> str | None:
        """After every call of ``partition`` (None: of the whole history) is placed: None when the
        final read-back and the webhooks observed are what ``state`` predicts, else why not."""
        ...

    def key(self, state: S) -> Hashable:
        """A fingerprint of ``state`` for memoisation: equal states, equal keys."""
        ...


@dataclass(frozen=True)
class Refutation:
    """A dead end: after ``order``, the model contradicts ``call`` (None: the final check)."""

    order: tuple[Call, ...]
    call: Call | None
    reason: str

    def describe(self) -> str:
        """``after A, B: C answered 200 but ...`` (the reason names the call when it does not)."""
        placed = "after " + ", ".join(c.name for c in self.order) if self.order else "first"
        if self.call is None:
            return f"{placed}: the final check: {self.reason}"
        reason = self.reason if self.call.label in self.reason else f"{self.call.label}: {self.reason}"
        return f"{placed}: {reason}"


@dataclass
class Verdict:
    """What :func:`check` found.

    ``linearizable`` is True with a witness ``order``, False with the dead ends that prove no
    order exists, or None when the search hit its bound first (cannot tell: never a failure).
    """

    linearizable: bool | None
    order: tuple[Call, ...]
    refutations: list[Refutation]  # the first dead ends, for the story (at most KEPT_REFUTATIONS)
    explored: int  # states reached (one per model step taken), over every group
    #: every dead end, counted by its reason (the call's label and the model's sentence)
    reasons: Counter[str] = field(default_factory=Counter)
    groups: int = 1  # how many independent groups (partitions) were searched
    bound: int | None = None  # the budget, when a group's search hit it
    calls: int = 0  # how many calls the history has

    @property
    def dead_ends(self) -> int:
        """How many dead ends the search met (every one, kept or not)."""
        return sum(self.reasons.values())

    def explain(self, limit: int = 6) -> str:
        """Why no order explains the history (or the witness order, or why the search cannot tell).

        >>> print(verdict.explain())  # doctest: +SKIP
        No order of the 2 calls explains what was observed (2 dead ends, 4 states searched):
          - after b0.0: branch 1, step 0: pay answered 200, but the model predicts 409 ...
          - after b1.0: branch 0, step 0: pay answered 200, but the model predicts 409 ...
        """
        if self.linearizable:
            return (f"Linearizable: {', '.join(c.name for c in self.order)} explains every answer "
                    f"({self.explored} states searched).")
        if self.linearizable is None:
            return (f"Cannot tell: the search hit its bound of {self.bound} states per group before it "
                    f"found an order that explains the history or proved none does ({self.explored} "
                    "states searched); this is not a failure.")
        lines = [f"No order of the {self.calls} calls explains what was observed ({self.dead_ends} dead "
                 f"{'end' if self.dead_ends == 1 else 'ends'}, {self.explored} states searched"
                 f"{f' in {self.groups} groups' if self.groups > 1 else ''}):"]
        if len(self.refutations) <= limit and self.dead_ends == len(self.refutations):
            lines += [f"  - {r.describe()}" for r in self.refutations]
            return "\n".join(lines)
        shown: list[Refutation] = []
        seen: set[tuple[int | None, str]] = set()
        for refutation in self.refutations:
            mark = (refutation.call.id if refutation.call else None, refutation.reason)
            if mark not in seen:
                seen.add(mark)
                shown.append(refutation)
            if len(shown) == limit:
                break
        lines.append(f"  the first {len(shown)} distinct dead ends:")
        lines += [f"  - {r.describe()}" for r in shown]
        lines.append(f"  every dead end, by reason ({len(self.reasons)} "
                     f"{'reason' if len(self.reasons) == 1 else 'reasons'}):")
        ranked = sorted(self.reasons.items(), key=lambda item: -item[1])  # stable: ties keep first seen
        lines += [f"  - {count} x {reason}" for reason, count in ranked[:limit]]
        rest = ranked[limit:]
        if rest:
            lines.append(f"  - and {sum(n for _, n in rest)} more for {len(rest)} other reasons")
        return "\n".join(lines)


def check(calls: Sequence[Call], initial: S, model: Model[S], *, budget: int = 100_000) -> Verdict:
    """Search for an order of ``calls`` that respects real time and that ``model`` explains.

    ``budget`` bounds the states reached (model steps) per group; a group that hits it makes
    the verdict None unless another group is refuted. Same calls, same verdict, same story:
    candidates are tried in (start, id) order.

    >>> verdict = check(calls, initial_state, MyModel())  # doctest: +SKIP
    >>> verdict.linearizable, [c.id for c in verdict.order]  # doctest: +SKIP
    (True, [0, 2, 1])
    """
    _validate(calls, budget)
    ordered = sorted(calls, key=lambda c: (c.start, c.id))
    groups: list[tuple[Hashable | None, list[Call]]]
    if any(c.partition is None for c in ordered) or not ordered:
        groups = [(None, ordered)]
    else:
        by_partition: dict[Hashable, list[Call]] = {}
        for c in ordered:  # partitions in the order of their first call
            by_partition.setdefault(c.partition, []).append(c)
        groups = list(by_partition.items())
    results = [_search(group, partition, initial, model, budget) for partition, group in groups]
    explored = sum(r.explored for r in results)
    refuted = [r for r in results if r.linearizable is False]
    if refuted:
        reasons: Counter[str] = Counter()
        for r in refuted:
            reasons.update(r.reasons)
        refutations = [x for r in refuted for x in r.refutations][:KEPT_REFUTATIONS]
        return Verdict(False, (), refutations, explored, reasons, len(groups), calls=len(calls))
    if any(r.linearizable is None for r in results):
        return Verdict(None, (), [], explored, Counter(), len(groups), budget, len(calls))
    return Verdict(True, _merge([r.order for r in results]), [], explored, Counter(), len(groups),
                   calls=len(calls))


def _validate(calls: Sequence[Call], budget: int) -> None:
    if budget < 1:
        raise ValueError(f"budget must be at least 1 state, not {budget}")
    ids: set[int] = set()
    for c in calls:
        if c.id in ids:
            raise ValueError(f"two calls of the history have id {c.id}; give each call its own id")
        ids.add(c.id)
        if c.end < c.start:
            raise ValueError(f"{c.label} (call {c.id}) ended at {c.end} before it started at {c.start}; "
                             "use one monotonic clock for both")


def _search(calls: list[Call], partition: Hashable | None, initial: S, model: Model[S],
            budget: int) -> Verdict:
    """Depth-first search of one group's orders; ``calls`` sorted by (start, id)."""
    n = len(calls)
    everything = (1 << n) - 1
    refutations: list[Refutation] = []
    reasons: Counter[str] = Counter()

    def dead_end(order: tuple[Call, ...], call: Call | None, reason: str) -> None:
        if len(refutations) < KEPT_REFUTATIONS:
            refutations.append(Refutation(order, call, reason))
        counted = (f"the final check: {reason}" if call is None
                   else reason if call.label in reason else f"{call.label}: {reason}")
        if counted not in reasons and len(reasons) >= COUNTED_REASONS:
            counted = _OTHER_REASONS
        reasons[counted] += 1

    def candidates(placed: int) -> list[int]:
        """The calls that may come next: started before every unplaced call's end."""
        soonest = min(calls[i].end for i in range(n) if not placed >> i & 1)
        return [i for i in range(n) if not placed >> i & 1 and calls[i].start <= soonest]

    # Each frame: the state reached, the calls placed (a bit per call), the order so far, and
    # the candidates not yet tried from there.
    seen: set[tuple[int, Hashable]] = {(0, model.key(initial))}
    stack: list[tuple[S, int, tuple[Call, ...], list[int]]] = []
    explored = 0
    if n == 0:
        why = model.finish(initial, partition)
        if why is None:
            return Verdict(True, (), [], 0)
        dead_end((), None, why)
    else:
        stack.append((initial, 0, (), candidates(0)))
    while stack:
        state, placed, order, untried = stack[-1]
        if not untried:
            stack.pop()
            continue
        i = untried.pop(0)
        if explored >= budget:
            return Verdict(None, (), refutations, explored, reasons, bound=budget)
        explored += 1
        call = calls[i]
        after, why = model.step(state, call)
        if why is not None:
            dead_end(order, call, why)
            continue
        now_placed, now_order = placed | 1 << i, (*order, call)
        memo = (now_placed, model.key(after))
        if memo in seen:  # this many calls and this state already led nowhere
            continue
        seen.add(memo)
        if now_placed == everything:
            why = model.finish(after, partition)
            if why is None:
                return Verdict(True, now_order, [], explored)
            dead_end(now_order, None, why)
            continue
        stack.append((after, now_placed, now_order, candidates(now_placed)))
    return Verdict(False, (), refutations, explored, reasons)


def _merge(orders: Sequence[tuple[Call, ...]]) -> tuple[Call, ...]:
    """One order of every group's calls that keeps each group's order and real time.

    One exists (linearizability is local, Herlihy & Wing): take, among the groups' next calls,
    the earliest (start, id) that no call still to come ended before.
    """
    heads = [0] * len(orders)
    merged: list[Call] = []
    remaining = [c for order in orders for c in order]
    while remaining:
        soonest = min(c.end for c in remaining)
        ready = [(orders[g][h].start, orders[g][h].id, g) for g, h in enumerate(heads)
                 if h < len(orders[g]) and orders[g][h].start <= soonest]
        _, _, g = min(ready)  # never empty, see above
        call = orders[g][heads[g]]
        heads[g] += 1
        merged.append(call)
        remaining.remove(call)
    return tuple(merged)
