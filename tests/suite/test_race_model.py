"""The model's side of the linearizability check, on hand-made histories of the real spec: what
an Idempotency-Key shared by requests at once may answer, and when the key is forgotten."""

from __future__ import annotations

from typing import Any

from cxpay_conformance.model import World
from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.linearizability import Call, check
from cxpay_conformance.suite.race_model import FirstAnswer, RaceModel, RaceState, RaceStep, initial_state

SPEC = load_spec()
EXPIRE = SPEC.events["expire_session"]
CLOCK = next(e for e in SPEC.events.values() if e.due is not None)
WINDOW = SPEC.protocol.idempotency_window
IN_USE = SPEC.protocol.key_in_flight


def _world() -> World:
    world = World(SPEC, now=1_000)
    world.create({"amount": 100, "currency": "usd", "success_url": "http://a", "cancel_url": "http://b"})
    return world


IDS = {"cs_1": "cs_real", "pi_1": "pi_real", "ch_1": "ch_real"}


def _real(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A model snapshot as the wire shows it: model keys replaced by the real ids."""
    def real(value: Any) -> Any:
        return [real(v) for v in value] if isinstance(value, list) else IDS.get(value, value) \
            if isinstance(value, str) else value

    return {k: real(v) for k, v in snapshot.items()}


def _expired_answer(world: World) -> dict[str, Any]:
    after = world.copy()
    after.fire("expire_session", "cs_1")
    return {**_real(after.snapshot("cs_1")), "object": "checkout_session"}


def _error(status: int, kind: str, code: str) -> dict[str, Any]:
    return {"error": {"type": kind, "code": code, "message": "", "param": None}}


def _expire(branch: int, key: str) -> RaceStep:
    return RaceStep(branch, "event", EXPIRE.operation, None, key, f"expire ({branch})", EXPIRE, "cs_1")


def _advance(branch: int, seconds: int) -> RaceStep:
    return RaceStep(branch, "advance", CLOCK.operation, {"seconds": seconds}, f"clock-{branch}",
                    f"advance {seconds}", seconds=seconds)


def _verdict(world: World, steps: list[RaceStep], answers: list[Exchange],
             times: list[tuple[float, float]]) -> Any:
    calls = [Call(i, s.branch, start, end, None, s.story) for i, (s, (start, end)) in enumerate(zip(steps, times,
                                                                                                     strict=True))]
    after = world.copy()
    for step in steps:  # the read-back: the session expired (whichever order)
        if step.kind == "event":
            after.fire("expire_session", "cs_1")
            break
    read_back = {IDS[key]: {**_real(after.snapshot(key)), "object": after.objects[key].type}
                 for key in IDS if key in after.objects}
    model = RaceModel(SPEC, steps, answers, IDS, [], read_back=read_back, deliveries=None, exact_webhooks=True)
    return check(calls, initial_state(world), model)


def _exchange(step: RaceStep, status: int, answer: Any) -> Exchange:
    return Exchange(step.operation, "POST", "/", step.body, status, answer,
                    {"Idempotency-Key": step.idempotency_key})


def test_a_second_request_under_one_key_may_replay_or_get_in_use_only_while_overlapping() -> None:
    world = _world()
    first, second = _expire(0, "k"), _expire(1, "k")
    done = _exchange(first, 200, _expired_answer(world))
    replayed = _exchange(second, 200, _expired_answer(world))
    in_use = _exchange(second, IN_USE.status, _error(IN_USE.status, IN_USE.type, IN_USE.code))
    assert _verdict(world, [first, second], [done, replayed], [(0.0, 0.01), (0.005, 0.02)]).linearizable
    assert _verdict(world, [first, second], [done, in_use], [(0.0, 0.01), (0.005, 0.02)]).linearizable
    # Sent after the first answer came: 409 in use is no longer allowed, only the replay.
    late = _verdict(world, [first, second], [done, in_use], [(0.0, 0.01), (0.02, 0.03)])
    assert late.linearizable is False
    assert "idempotency_key_in_use" in late.explain()
    # Doing the work twice (the second expire refused as if it ran again) is never allowed.
    again = _exchange(second, 409, _error(409, "invalid_request_error", "invalid_state"))
    assert _verdict(world, [first, second], [done, again], [(0.0, 0.01), (0.005, 0.02)]).linearizable is False


def test_a_key_is_forgotten_once_the_clock_moved_a_whole_window_on() -> None:
    """A clock advance by the idempotency window, at once with two requests under one key: the
    second may come after the key was forgotten, and then it is a new request (seen against the
    sandbox as a false alarm before the model knew the window)."""
    world = _world()
    first, second, clock = _expire(0, "k"), _expire(1, "k"), _advance(2, WINDOW)
    answers = [_exchange(first, 200, _expired_answer(world)),
               _exchange(second, 409, _error(409, "invalid_request_error", "invalid_state")),
               _exchange(clock, 200, {"now": world.now + WINDOW})]
    verdict = _verdict(world, [first, second, clock], answers, [(0.001, 0.008), (0.005, 0.042), (0.0, 0.010)])
    assert verdict.linearizable, verdict.explain()
    # One second short of the window, the key is still remembered: the refusal is not explained.
    short = [*answers[:2], _exchange(clock, 200, {"now": world.now + WINDOW - 1})]
    clock_short = _advance(2, WINDOW - 1)
    assert _verdict(world, [first, second, clock_short], short,
                    [(0.001, 0.008), (0.005, 0.042), (0.0, 0.010)]).linearizable is False


def test_two_orders_that_differ_only_in_when_a_key_was_first_answered_are_both_searched() -> None:
    """A payment processing; a refused authenticate and its retry under one key, both refused
    (with other messages: each was a request of its own) while the clock moves a window and a
    second on. Only an order with the clock between the two explains it: the key is forgotten in between.
    "clock, retry" reaches the same objects with the key answered a window later, and the search
    must not take the one for the other (seen against the sandbox: seed 1234)."""
    world = _world()
    world.fire("pay", "cs_1", {"card_number": "4242424242424242"})
    auth = SPEC.events["authenticate"]
    first, retry = (RaceStep(b, "event", auth.operation, {"outcome": "fail"}, "k", f"authenticate ({b})", auth,
                             "pi_1", {"outcome": "fail"}) for b in (0, 1))
    clock = _advance(2, WINDOW + 1)
    refused = {"error": {"type": "invalid_request_error", "code": "invalid_state", "param": None}}
    answers = [_exchange(first, 409, {"error": {**refused["error"], "message": "it is expired"}}),
               _exchange(retry, 409, {"error": {**refused["error"], "message": "it is processing"}}),
               _exchange(clock, 200, {"now": world.now + WINDOW + 1})]
    calls = [Call(0, 0, 0.001, 0.016, None, "authenticate"), Call(1, 1, 0.002, 0.009, None, "retry"),
             Call(2, 2, 0.0005, 0.015, None, "clock")]
    after = world.copy()
    after.advance(WINDOW + 1)
    read_back = {IDS[key]: {**_real(after.snapshot(key)), "object": after.objects[key].type} for key in IDS}
    model = RaceModel(SPEC, [first, retry, clock], answers, IDS, [], read_back=read_back, deliveries=None,
                      exact_webhooks=True)
    verdict = check(calls, initial_state(world), model)
    assert verdict.linearizable, verdict.explain()
    assert verdict.order[1].label == "clock"  # the key forgotten between the two


def test_the_memo_tells_states_apart_by_when_a_key_was_answered_only_if_another_step_carries_it() -> None:
    """When a key's first answer came decides only a later step under that key. For a key one
    step carries, two orders that differ only there (a clock advance before or after the step)
    have the same futures: one memo entry, so a search that must prove every order wrong does
    not try each position of the advance again."""
    world = _world()
    clock = _advance(2, 60)
    call = Call(0, 0, 0.0, 0.01, None, "expire")

    def memo_keys(steps: list[RaceStep]) -> tuple[Any, Any]:
        model = RaceModel(SPEC, steps, [], IDS, [], read_back={}, deliveries=None, exact_webhooks=True)
        early, late = (RaceState(world, first={"k": FirstAnswer(call, 200, {}, at)}) for at in (1_000, 1_060))
        return model.key(early), model.key(late)

    alone = memo_keys([_expire(0, "k"), clock])
    assert alone[0] == alone[1]
    shared = memo_keys([_expire(0, "k"), _expire(1, "k"), clock])
    assert shared[0] != shared[1]
