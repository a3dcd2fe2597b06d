"""The linearizability checker on hand-made histories, with a toy model of payments.

The toy model: each payment starts ``open``; ``pay`` and ``cancel`` succeed (200) on an open
payment and answer 409 otherwise; ``read`` answers the payment's status; ``tick`` (a clock
advance, which may touch every payment) expires every open payment. The final read-back, when
given, is each payment's status. ``write`` (always 200) sets a payment's status to anything,
like a register.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace

import pytest

from cxpay_conformance.suite.linearizability import Call, Verdict, check

State = tuple[tuple[str, str], ...]  # (payment, status), sorted


@dataclass(frozen=True)
class Op:
    kind: str  # pay, cancel, read, write, tick
    payment: str | None
    answer: int | str  # the status code observed, or for a read the status read, for a write the one written


class Payments:
    """The toy model; ``ops`` by call id, ``final`` the statuses read back at the end."""

    def __init__(self, ops: Mapping[int, Op], final: Mapping[str, str] | None = None) -> None:
        self.ops = ops
        self.final = final
        self.steps = 0

    def step(self, state: State, call: Call) -> tuple[State, str | None]:
        self.steps += 1
        op = self.ops[call.id]
        statuses = dict(state)
        if op.kind == "tick":
            after = {p: ("expired" if s == "open" else s) for p, s in statuses.items()}
            return _state(after), None
        assert op.payment is not None
        status = statuses[op.payment]
        if op.kind == "write":  # a register: always 200, whatever was there
            return _state({**statuses, op.payment: str(op.answer)}), None
        if op.kind == "read":
            why = None if op.answer == status else f"{call.label} read {op.answer}, but the payment is {status}"
            return state, why
        allowed = status == "open"
        expected = 200 if allowed else 409
        if allowed:
            statuses[op.payment] = {"pay": "paid", "cancel": "canceled"}[op.kind]
        why = None if op.answer == expected else (
            f"{call.label} answered {op.answer}, but the model predicts {expected} (the payment is {status})")
        return _state(statuses), why

    def finish(self, state: State, partition: Hashable | None) -> str | None:
        if self.final is None:
            return None
        for payment, status in state:
            if partition in (None, payment) and self.final[payment] != status:
                return f"{payment} was read back {self.final[payment]}, but this order leaves it {status}"
        return None

    def key(self, state: State) -> Hashable:
        return state


def _state(statuses: Mapping[str, str]) -> State:
    return tuple(sorted(statuses.items()))


def opened(*payments: str) -> State:
    return _state({p: "open" for p in payments})


class History:
    """Builds calls and their observed answers together."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.ops: dict[int, Op] = {}

    def add(self, branch: int, start: float, end: float, kind: str, payment: str | None,
            answer: int | str = 200) -> Call:
        ident = len(self.calls)
        step = sum(1 for c in self.calls if c.branch == branch)
        call = Call(ident, branch, start, end, payment, f"branch {branch}, step {step}: {kind} {payment or ''}".strip(),
                    f"b{branch}.{step}")
        self.calls.append(call)
        self.ops[ident] = Op(kind, payment, answer)
        return call

    def model(self, final: Mapping[str, str] | None = None) -> Payments:
        return Payments(self.ops, final)


def respects_real_time(order: Sequence[Call]) -> bool:
    return all(not later.end < earlier.start for i, earlier in enumerate(order) for later in order[i + 1:])


def test_a_sequential_history_is_linearizable_in_its_own_order() -> None:
    h = History()
    h.add(0, 0, 1, "pay", "p", 200)
    h.add(0, 2, 3, "pay", "p", 409)
    h.add(0, 4, 5, "read", "p", "paid")
    verdict = check(h.calls, opened("p"), h.model({"p": "paid"}))
    assert verdict.linearizable is True
    assert [c.id for c in verdict.order] == [0, 1, 2]
    assert verdict.explored == 3  # no detour
    assert verdict.explain().startswith("Linearizable: b0.0, b0.1, b0.2")


def test_overlapping_calls_are_placed_in_the_only_order_that_explains_them() -> None:
    h = History()
    first = h.add(0, 0, 3, "pay", "p", 409)  # sent first, but lost the race
    second = h.add(1, 1, 2, "pay", "p", 200)
    verdict = check(h.calls, opened("p"), h.model({"p": "paid"}))
    assert verdict.linearizable is True
    assert verdict.order == (second, first)


def test_two_overlapping_pays_both_answered_200_are_not_linearizable() -> None:
    h = History()
    h.add(0, 0, 2, "pay", "p", 200)
    h.add(1, 1, 3, "pay", "p", 200)
    verdict = check(h.calls, opened("p"), h.model())
    assert verdict.linearizable is False
    assert verdict.order == ()
    # both orders were tried, and each ends at the second pay
    assert [(tuple(c.id for c in r.order), r.call and r.call.id) for r in verdict.refutations] == [((0,), 1), ((1,), 0)]
    story = verdict.explain()
    assert story.splitlines() == [
        "No order of the 2 calls explains what was observed (2 dead ends, 4 states searched):",
        "  - after b0.0: branch 1, step 0: pay p answered 200, but the model predicts 409 (the payment is paid)",
        "  - after b1.0: branch 0, step 0: pay p answered 200, but the model predicts 409 (the payment is paid)",
    ]


def test_real_time_decides_a_history_that_some_order_would_explain() -> None:
    h = History()
    h.add(0, 0, 1, "pay", "p", 409)  # ended before the other began: it must come first
    h.add(1, 2, 3, "pay", "p", 200)
    verdict = check(h.calls, opened("p"), h.model())
    assert verdict.linearizable is False
    assert [r.call.id for r in verdict.refutations if r.call] == [0]  # the late pay is never tried first
    assert "branch 0, step 0: pay p answered 409, but the model predicts 200" in verdict.explain()
    # The same answers with the two calls overlapping are explained by the order 1, 0.
    overlapping = [replace(h.calls[0], end=2.5), h.calls[1]]
    verdict = check(overlapping, opened("p"), h.model())
    assert verdict.linearizable is True
    assert [c.id for c in verdict.order] == [1, 0]


def _two_payments() -> History:
    """Two payments, two branches on each, interleaved: every call overlaps the others of its
    round. Each branch writes its name twice; the read-back (see ``FINAL``) is branch 0's last
    write on p and branch 2's on q, which every order that ends with the other branch's write
    contradicts only at the end."""
    h = History()
    for round_ in range(2):
        for branch in range(4):
            start = round_ + 0.1 * branch
            h.add(branch, start, start + 0.95, "write", "p" if branch < 2 else "q", f"b{branch}.{round_}")
    return h


FINAL = {"p": "b0.1", "q": "b2.1"}
#: q read back as branch 3's first write, which its second always overwrote: no order explains it
BROKEN = {"p": "b0.1", "q": "b3.0"}


def test_partitioning_by_payment_gives_the_same_verdict_with_fewer_states() -> None:
    h = _two_payments()
    split = check(h.calls, opened("p", "q"), h.model(FINAL))
    whole = check([replace(c, partition=None) for c in h.calls], opened("p", "q"), h.model(FINAL))
    assert split.linearizable is whole.linearizable is True
    assert split.groups == 2 and whole.groups == 1
    assert split.explored < whole.explored
    assert respects_real_time(split.order) and sorted(c.id for c in split.order) == list(range(8))
    assert _replay(h, [c.id for c in split.order], opened("p", "q")) == _state(FINAL)

    split = check(h.calls, opened("p", "q"), h.model(BROKEN))
    whole = check([replace(c, partition=None) for c in h.calls], opened("p", "q"), h.model(BROKEN))
    assert split.linearizable is whole.linearizable is False
    assert split.explored < whole.explored
    assert {r.order[-1].partition for r in split.refutations} == {"q"}  # p's calls were explained
    assert "the final check: q was read back b3.0" in split.explain()


def _replay(h: History, ids: Sequence[int], state: State) -> State:
    model = h.model()
    for ident in ids:
        state, why = model.step(state, h.calls[ident])
        assert why is None, why
    return state


def test_a_clock_advance_joins_every_payment_in_one_group() -> None:
    h = History()
    h.add(0, 0, 2, "pay", "p", 409)
    h.add(1, 0.5, 2.5, "tick", None)
    h.add(2, 1, 3, "cancel", "q", 200)  # came before the tick expired q
    verdict = check(h.calls, opened("p", "q"), h.model({"p": "expired", "q": "canceled"}))
    assert verdict.groups == 1
    assert verdict.linearizable is True
    assert [c.id for c in verdict.order] == [2, 1, 0]


def test_a_final_read_back_no_order_explains_is_reported_without_a_call() -> None:
    h = History()
    h.add(0, 0, 1, "pay", "p", 200)
    verdict = check(h.calls, opened("p"), h.model({"p": "open"}))
    assert verdict.linearizable is False
    [refutation] = verdict.refutations
    assert refutation.call is None and [c.id for c in refutation.order] == [0]
    assert "after b0.0: the final check: p was read back open, but this order leaves it paid" in verdict.explain()


def test_an_empty_history_is_checked_against_the_final_read_back() -> None:
    assert check([], opened("p"), Payments({}, {"p": "open"})).linearizable is True
    verdict = check([], opened("p"), Payments({}, {"p": "paid"}))
    assert verdict.linearizable is False and verdict.refutations[0].call is None


def test_a_search_that_hits_its_bound_cannot_tell_and_does_not_fail() -> None:
    h = History()
    h.add(0, 0, 2, "pay", "p", 200)
    h.add(1, 1, 3, "pay", "p", 200)
    verdict = check(h.calls, opened("p"), h.model(), budget=1)
    assert verdict.linearizable is None and verdict.bound == 1
    assert verdict.explored == 1
    assert "Cannot tell: the search hit its bound of 1 states" in verdict.explain()
    assert "not a failure" in verdict.explain()
    assert check(h.calls, opened("p"), h.model(), budget=4).linearizable is False  # enough to refute


def _slow_q(p_answers: tuple[int, int]) -> History:
    """p: two overlapping pays. q: three pays answered 409 before the one answered 200, which
    started last: its search tries each 409 first and needs 7 states to find the order."""
    h = History()
    h.add(0, 0, 2, "pay", "p", p_answers[0])
    h.add(1, 1, 3, "pay", "p", p_answers[1])
    for branch in (2, 3, 4):
        h.add(branch, branch / 10, 3, "pay", "q", 409)
    h.add(5, 1, 3, "pay", "q", 200)
    return h


def test_with_partitions_a_refuted_group_fails_and_a_bound_alone_cannot_tell() -> None:
    refuted = _slow_q((200, 200))  # p: refuted in 4 states
    assert check(refuted.calls, opened("p", "q"), refuted.model(), budget=4).linearizable is False
    fine = _slow_q((200, 409))
    assert check(fine.calls, opened("p", "q"), fine.model()).linearizable is True
    verdict = check(fine.calls, opened("p", "q"), fine.model(), budget=4)
    assert verdict.linearizable is None and verdict.bound == 4


def test_the_same_history_gives_the_same_verdict_and_story_in_any_input_order() -> None:
    h = History()
    for branch in range(4):
        for step in range(2):
            h.add(branch, step + 0.1 * branch, step + 0.9 + 0.1 * branch, "pay", "p", 200 if step == 0 else 409)
    verdicts: list[Verdict] = []
    for seed in range(5):
        calls = list(h.calls)
        random.Random(seed).shuffle(calls)
        verdicts.append(check(calls, opened("p"), h.model()))
    assert verdicts[0].linearizable is False
    assert len({v.explain() for v in verdicts}) == 1
    assert len({(v.explored, tuple(v.refutations)) for v in verdicts}) == 1


def test_many_dead_ends_are_summed_up_by_reason() -> None:
    h = History()
    for branch in range(4):  # four pays at once, all answered 200: every order dies at its second
        h.add(branch, 0.1 * branch, 5, "pay", "p", 200)
    verdict = check(h.calls, opened("p"), h.model())
    assert verdict.linearizable is False and verdict.dead_ends == 12
    story = verdict.explain(limit=2).splitlines()
    assert story[0].startswith("No order of the 4 calls explains what was observed (12 dead ends")
    assert story[1] == "  the first 2 distinct dead ends:"
    assert story[2] == ("  - after b0.0: branch 1, step 0: pay p answered 200, but the model predicts 409 "
                        "(the payment is paid)")
    assert story[4] == "  every dead end, by reason (4 reasons):"
    assert story[5].startswith("  - 3 x branch 1, step 0: pay p answered 200")  # ties: the first seen
    assert story[-1] == "  - and 6 more for 2 other reasons"


def test_memoisation_prunes_interleavings_that_reach_the_same_state() -> None:
    # 4 branches of 4 reads at once: 16!/(4!^4) = 63 million interleavings, all reaching the
    # same state, and a read-back that none explains. Only the 5^4 sets of calls placed matter.
    h = History()
    for branch in range(4):
        for step in range(4):
            h.add(branch, step + 0.01 * branch, step + 0.99, "read", "p", "open")
    model = h.model({"p": "paid"})
    verdict = check(h.calls, opened("p"), model)
    assert verdict.linearizable is False
    assert verdict.dead_ends == 1  # the read-back, once: every other full order was pruned
    assert verdict.explored == model.steps <= 4 * 5**4


def test_a_history_with_two_calls_of_one_id_or_time_running_backwards_is_refused() -> None:
    h = History()
    h.add(0, 0, 1, "pay", "p")
    with pytest.raises(ValueError, match="two calls of the history have id 0"):
        check([h.calls[0], h.calls[0]], opened("p"), h.model())
    with pytest.raises(ValueError, match="ended at 0 before it started at 1"):
        check([replace(h.calls[0], start=1, end=0)], opened("p"), h.model())
    with pytest.raises(ValueError, match="budget must be at least 1"):
        check(h.calls, opened("p"), h.model(), budget=0)
