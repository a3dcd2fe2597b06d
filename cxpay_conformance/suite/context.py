"""What one run of the suite shares across its examples: configuration, the implementation's
adapter, the model's machines, coverage, counters and the story of the latest example."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cxpay_conformance.errors import ConformanceFailure, ImplementationUnreachable
from cxpay_conformance.model import ObjectMachines
from cxpay_conformance.spec import Event, Rejection, Spec
from cxpay_conformance.suite.adapter import Adapter, Exchange
from cxpay_conformance.suite.config import SuiteConfig
from cxpay_conformance.suite.coverage import Coverage
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.patience import Patience
from cxpay_conformance.suite.receiver import WebhookReceiver


@dataclass
class Step:
    """One step of a story: who did what, what the spec expected and what was seen."""

    number: int
    actor: str
    event: str
    story: str
    expected: str
    observed: str = ""
    exchange: Exchange | None = None
    #: The model's transitions this step fired: (transition index, the state it left; None when
    #: it created the object), in order; the HTML report draws them as the story's path.
    fired: list[tuple[int, str | None]] = field(default_factory=list)
    #: (object type, state) when the model rejected this step's event in that state.
    rejected_in: tuple[str, str] | None = None
    #: When the step began (``time.time()``), to place the webhooks received between steps.
    began: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Prediction:
    """What the suite expected of one answer, as far as it predicted it: the HTTP status, the
    error code of a rejection, the status of the object answered, and for a replayed request,
    the very answer of an earlier exchange (``same_as``, its index). The reproduction script
    compares its answers with these."""

    status: int
    code: str | None = None
    object_status: str | None = None
    same_as: int | None = None

    def misses(self, exchange: Exchange, exchanges: Sequence[Exchange]) -> bool:
        """Whether ``exchange``'s answer differs from this prediction (``exchanges``: the
        example's, which ``same_as`` points into)."""
        answer = exchange.answer if isinstance(exchange.answer, dict) else {}
        return (exchange.status != self.status or (self.code is not None and exchange.error_code != self.code)
                or (self.object_status is not None and answer.get("status") != self.object_status)
                or (self.same_as is not None and exchanges[self.same_as].answer != exchange.answer))


@dataclass(frozen=True)
class KeyedRequest:
    """A request sent with an Idempotency-Key, kept so that a probe can replay it."""

    operation_id: str
    key: str | None
    body: Any
    first: Exchange
    sent_at: int
    payment: int | None


@dataclass(frozen=True)
class FirstFailure:
    """The run's first failing example, as found: before Hypothesis shrank it."""

    seconds: float  # from the start of the run to the failing check
    examples: int  # examples run, the failing one included
    check: str
    races: int = 0  # concurrent histories run before it (the failing one not included)
    steps: int = 0  # steps of the failing example when it failed: its story before shrinking


class Example(Protocol):
    """One example of the generated state machine, as the run and the second merchant's
    payments see it. The machine is :class:`~cxpay_conformance.suite.machine.ConformanceMachine`;
    this is what the modules it imports may ask of it, so that none of them imports it back."""

    ctx: SuiteContext
    nonce: str
    steps: list[Step]
    exchanges: list[Exchange]
    predictions: dict[int, Prediction]
    branches: dict[int, tuple[int, float, float]]
    ids: dict[str, str]
    counted: bool

    @property
    def failure(self) -> ConformanceFailure | None: ...

    @property
    def failed(self) -> bool: ...

    def every_id(self) -> dict[str, str]: ...

    def begin(self, actor: str, event: str, story: str, expected: str) -> Step: ...

    def perform(self, operation_id: str, key: str | None, body: Any = None, *, api_key: Any = ...,
                keyed: bool = False, idempotency_key: str | None = None,
                object_id: str | None = None, query: Mapping[str, str | int] | None = None) -> Exchange: ...

    def predict(self, exchange: Exchange, status: int, code: str | None = None,
                object_status: str | None = None, *, same_as: Exchange | None = None) -> None: ...

    def rejected(self, exchange: Exchange, rejection: Rejection | None) -> None: ...

    def run(self, name: str, *args: Any, **kwargs: Any) -> None: ...


@dataclass
class SuiteContext:
    """Everything the generated machines share during one run."""

    spec: Spec
    contract: OpenAPIContract
    adapter: Adapter
    config: SuiteConfig
    selected: frozenset[str]
    receiver: WebhookReceiver | None = None
    coverage: Coverage = field(init=False)
    machines: ObjectMachines = field(init=False)
    readers: dict[str, str] = field(init=False)
    creating: Event = field(init=False)
    clock_event: Event = field(init=False)
    examples: int = 0
    steps: int = 0
    requests: int = 0
    races: int = 0  # concurrent histories run (each plan's repeats counted one by one)
    checks_run: Counter[str] = field(default_factory=Counter)
    current: Example | None = None
    #: The latest example that failed a check: what is reported if Hypothesis cannot replay it.
    failing: Example | None = None
    listener: Callable[[SuiteContext], None] | None = None
    fatal: ImplementationUnreachable | None = None
    #: Strategies built once per run and reused by every example (draws.params_strategy,
    #: draws.sampled, draws.or_none), each under a key that starts with its kind.
    strategies: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    #: The webhook types no longer waited for long at quiescence (suite/patience.py).
    patience: Patience = field(init=False)
    #: The last event the event_list check listed (suite/event_list.py): the next example reads on from there.
    event_list_after: str | None = None
    #: Webhook endpoints an example registered and has not deleted yet: id -> the API key that
    #: owns it (the run deletes what a failing example left behind).
    endpoints_open: dict[str, Any] = field(default_factory=dict)
    #: Seconds the examples' ends waited for deliveries refused on purpose to come again.
    retry_waits: float = 0.0
    #: Steps taken, by kind ("actor: event"), for the contract coverage table (docs/contract-coverage.md).
    step_kinds: Counter[str] = field(default_factory=Counter)
    #: When the run met its first failure; every example after it is Hypothesis shrinking it.
    first_failure: FirstFailure | None = None
    started: float = field(default_factory=time.monotonic)
    #: What the user should know of a run that still gave a verdict: a batch Hypothesis stopped
    #: early (see runner._explore_with), said in the report and before the verdict.
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.coverage = Coverage(self.spec)
        self.patience = Patience()
        self.machines = ObjectMachines(self.spec)
        self.readers = self.contract.readers(list(self.spec.objects))
        self.creating = next(e for e in self.spec.events.values() if e.creates)
        self.clock_event = next(e for e in self.spec.events.values() if e.due is not None)

    @property
    def retry_window(self) -> float:
        """Seconds within which a delivery the receiver refused is owed again: the user's
        ``--webhook-retry-window``, or the spec's ``protocol.webhook_retry_window``."""
        return self.config.webhook_retry_window or float(self.spec.protocol.webhook_retry_window)

    def begin_example(self, machine: Example) -> None:
        self.current = machine

    def end_example(self, machine: Example) -> None:
        if machine.steps:  # Hypothesis also starts examples it abandons before any step
            self.examples += 1
            machine.counted = True
            self.notify()

    def example_failed(self, machine: Example, failure: ConformanceFailure) -> None:
        """Note the run's first failure (the listener, a progress bar, learns that shrinking began)."""
        if self.first_failure is None:
            self.first_failure = FirstFailure(self.clock() - self.started,
                                              self.examples + (0 if machine.counted else 1), failure.check,
                                              self.races, len(machine.steps))
            self.notify()

    def notify(self) -> None:
        """Tell the listener (a progress bar) that the counters moved."""
        if self.listener is not None:
            self.listener(self)

    @staticmethod
    def clock() -> float:
        return time.monotonic()

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)

    @staticmethod
    def wall() -> float:
        """Real Unix time, as the receiver stamps deliveries."""
        return time.time()


def rejection_words(rejection: Rejection | None, state: str | None) -> str:
    """How a story says that ``rejection`` is expected (in ``state``, when known)."""
    if rejection is None:
        return "rejected"
    where = f" (it is {state})" if state else ""
    return f"rejected: {rejection.status} {rejection.type}/{rejection.code}{where}"


def brief(params: Mapping[str, Any], lead: str = "") -> str:
    """Parameters as a story shows them: ``amount=1000, currency=usd`` (after ``lead``)."""
    if not params:
        return ""
    return lead + ", ".join(f"{k}={v}" for k, v in params.items())
