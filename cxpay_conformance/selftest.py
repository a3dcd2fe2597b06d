"""The self-test: prove the conformance suite's power by running it against the reference
server with each injected fault of its catalogue, and once with none.

For every fault, :func:`run_selftest` starts the embedded reference server with that one fault
(``embedded_server(faults=(name,))``), runs the suite against it (:func:`run_suite`) within a
time budget, and records whether it failed, which check failed, how long the first failure
took and how many steps the shrunk story has. A run with no fault must conform: a false
positive fails the self-test as surely as a missed fault. Like :mod:`.embedded`, this is a
front-end helper: it is the one other place that knows the server's fault catalogue.

>>> result = run_selftest(SelftestOptions(faults=("session_not_completed",), seed=1))
>>> result.ok, result.outcomes[0].check
(True, 'state')
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

from cxpay_conformance.embedded import embedded_server
from cxpay_conformance.errors import UsageError
from cxpay_conformance.server.config import unknown_faults_message
from cxpay_conformance.server.faults import FAULTS, Fault
from cxpay_conformance.suite import PROFILES, SuiteConfig, SuiteResult, run_suite
from cxpay_conformance.suite._compat import shrinking_for_at_most

#: The name the clean run (no fault at all) goes by in results and tables.
CLEAN = "(no fault)"

#: Checks that report a family's faults first in a full run, and so are turned off when a
#: fault of that family is injected, to show that its own check catches it. The state check
#: compares every field of every object that the invariants constrain, so against a
#: sequential implementation it always fails a step before the invariants check would.
SHADOWED_BY: Mapping[str, tuple[str, ...]] = {"invariants": ("state",)}

#: Faults that the ``ci`` profile does not catch in every run, the profile that does, and why.
#: The self-test runs each of them with at least that profile and says so. (Measured with
#: several seeds against the suite as it is now; docs/faults.md has the numbers.)
NEEDS_PROFILE: Mapping[str, tuple[str, str]] = {
    "settlement_never_happens": (
        "thorough",
        "settling takes a charge that succeeds and then a test-clock jump of two days past its "
        "success, the deepest path of the spec; ci's 40-step examples reach it in about two "
        "runs of three",
    ),
    "expire_reopens_complete": (
        "thorough",
        "it shows only when the merchant expires a session after its payment succeeded, a "
        "rejection ci's examples try in about two runs of three",
    ),
}

#: The reference server answers synchronously (a read right after a write sees it), so the
#: self-test does not poll an object that differs from the model: a failing step fails at once,
#: which keeps shrinking (it replays the failing example many times) fast. Webhooks keep the
#: suite's own wait (``SuiteConfig.webhook_timeout``), the one users run with.
SETTLE_TIMEOUT = 0.0


@dataclass(frozen=True)
class SelftestOptions:
    """What to run: ``faults`` (empty: every fault the suite can catch), the suite's profile
    and seed (None: random, reported), per fault a ``time_budget`` in seconds for exploring
    (twice that for a fault run with a stronger profile, see :data:`NEEDS_PROFILE`) and a
    ``shrink_budget`` for shrinking a failure once found, and ``jobs`` runs at once in worker
    processes; ``clean_run`` adds the run without any fault."""

    faults: tuple[str, ...] = ()
    profile: str = "ci"
    seed: int | None = None
    time_budget: float | None = 120.0
    shrink_budget: int = 10
    jobs: int = 1
    clean_run: bool = True
    #: Seconds a refused webhook has to come again (None: the spec's protocol.webhook_retry_window).
    retry_window: float | None = None


@dataclass(frozen=True)
class FaultOutcome:
    """What the suite did against one fault (or ``CLEAN``, no fault).

    ``caught`` is whether the suite reported non-conformance; ``check`` the check that failed
    in the reported (shrunk) story and ``first_check`` the one that failed first (shrinking
    may end on another failure the fault causes, which is then the shorter story);
    ``first_failure`` seconds from the start of the run to the first failing check;
    ``story_steps`` the steps of the shrunk story; ``skipped_checks`` the checks turned off
    (see :data:`SHADOWED_BY`); ``error`` a problem that stopped the run itself.
    """

    fault: str
    family: str
    caught: bool
    profile: str = ""
    check: str | None = None
    first_check: str | None = None
    message: str = ""
    first_failure: float | None = None
    duration: float = 0.0
    story_steps: int | None = None
    examples: int = 0
    examples_to_failure: int | None = None
    seed: int | None = None
    replay: str = ""
    flaky: bool = False
    skipped_checks: tuple[str, ...] = ()
    error: str | None = None

    @property
    def expected_check(self) -> bool:
        """Whether a check that failed is the one the catalogue says catches the fault."""
        return self.family in (self.check, self.first_check)

    def to_json(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "family": self.family,
            "caught": self.caught,
            "profile": self.profile,
            "check": self.check,
            "first_check": self.first_check,
            "expected_check": self.expected_check,
            "message": self.message,
            "first_failure_seconds": _rounded(self.first_failure),
            "duration_seconds": _rounded(self.duration),
            "story_steps": self.story_steps,
            "examples": self.examples,
            "examples_to_failure": self.examples_to_failure,
            "seed": self.seed,
            "replay": self.replay,
            "flaky": self.flaky,
            "skipped_checks": list(self.skipped_checks),
            "error": self.error,
        }


@dataclass
class SelftestResult:
    """Every fault's outcome, the clean run's, and the faults left out because the suite
    cannot catch them by design (each with its reason)."""

    options: SelftestOptions
    seed: int
    outcomes: list[FaultOutcome] = field(default_factory=list)
    clean: FaultOutcome | None = None
    blind_spots: list[Fault] = field(default_factory=list)
    duration: float = 0.0

    @property
    def missed(self) -> list[FaultOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.caught]

    @property
    def false_positive(self) -> bool:
        return self.clean is not None and (self.clean.caught or self.clean.error is not None)

    @property
    def ok(self) -> bool:
        """Every fault run was caught and the clean run conformed."""
        return not self.missed and not self.false_positive

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "profile": self.options.profile,
            "seed": self.seed,
            "time_budget_seconds": self.options.time_budget,
            "shrink_budget_seconds": self.options.shrink_budget,
            "jobs": self.options.jobs,
            "duration_seconds": _rounded(self.duration),
            "clean": self.clean.to_json() if self.clean else None,
            "faults": [outcome.to_json() for outcome in self.outcomes],
            "missed": [outcome.fault for outcome in self.missed],
            "not_run": [{"fault": f.name, "reason": f.blind_spot} for f in self.blind_spots],
        }


def chosen_faults(names: Sequence[str]) -> tuple[list[Fault], list[Fault]]:
    """The faults to run and the blind spots left out: every catchable fault when ``names`` is
    empty; exactly ``names`` otherwise (a blind spot named explicitly is run, and missed).
    Raises :class:`UsageError` for a name not in the catalogue."""
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        raise UsageError(unknown_faults_message(unknown))
    if names:
        return [FAULTS[name] for name in dict.fromkeys(names)], []
    every = list(FAULTS.values())
    return [f for f in every if not f.blind_spot], [f for f in every if f.blind_spot]


def run_selftest(
    options: SelftestOptions,
    *,
    on_outcome: Callable[[FaultOutcome], None] | None = None,
) -> SelftestResult:
    """Run the suite against each chosen fault and once without any; ``on_outcome`` hears of
    each run as it ends (a progress bar).

    >>> run_selftest(SelftestOptions(faults=("amount_as_string",), profile="quick")).ok
    True
    """
    if options.profile not in PROFILES:
        raise UsageError(f"unknown profile {options.profile!r}; use one of: {', '.join(PROFILES)}")
    faults, blind_spots = chosen_faults(options.faults)
    seed = options.seed if options.seed is not None else int.from_bytes(os.urandom(4), "big")
    options = replace(options, seed=seed)
    result = SelftestResult(options, seed, blind_spots=blind_spots)
    started = time.monotonic()
    names = [*([""] if options.clean_run else []), *(fault.name for fault in faults)]
    outcomes: dict[str, FaultOutcome] = {}

    def finished(outcome: FaultOutcome) -> None:
        outcomes[outcome.fault] = outcome
        if on_outcome is not None:
            on_outcome(outcome)

    if options.jobs <= 1:
        for name in names:
            finished(run_one(name, options))
    else:
        # Worker processes, not threads: the suite and the server are CPU-bound Python.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=options.jobs, mp_context=context) as pool:
            futures = [pool.submit(run_one, name, options) for name in names]
            for future in as_completed(futures):
                finished(future.result())
    result.clean = outcomes.get(CLEAN)
    result.outcomes = [outcomes[fault.name] for fault in faults]
    result.duration = time.monotonic() - started
    return result


def run_one(fault: str, options: SelftestOptions) -> FaultOutcome:
    """The suite against the reference server with ``fault`` injected ("": none).

    >>> run_one("amount_as_string", SelftestOptions(seed=1)).check
    'openapi'
    """
    family = FAULTS[fault].family if fault else ""
    skipped = SHADOWED_BY.get(family, ())
    profile = profile_for(fault, options.profile)
    name = fault or CLEAN
    started = time.monotonic()
    try:
        with embedded_server(faults=(fault,) if fault else ()) as server:
            config = SuiteConfig.for_embedded(
                server,
                seed=options.seed,
                profile=profile,
                time_budget=_budget_for(profile, options),
                skip_checks=skipped,
                settle_timeout=SETTLE_TIMEOUT,
                webhook_retry_window=options.retry_window,
                database=None,  # honest timings: no failure replayed from an earlier run
            )
            with shrinking_for_at_most(options.shrink_budget):
                suite = run_suite(config)
    except Exception as exc:  # one broken run must not end the others: report it as an error
        return FaultOutcome(name, family, caught=False, profile=profile, error=f"{type(exc).__name__}: {exc}",
                            duration=time.monotonic() - started, seed=options.seed, skipped_checks=skipped)
    return _outcome(name, family, profile, suite, skipped)


def profile_for(fault: str, chosen: str) -> str:
    """The profile ``fault`` runs with: ``chosen``, or the stronger one it needs (see
    :data:`NEEDS_PROFILE`)."""
    needed = NEEDS_PROFILE.get(fault, (chosen, ""))[0]
    order = list(PROFILES)
    return max(chosen, needed, key=order.index)


def _budget_for(profile: str, options: SelftestOptions) -> float | None:
    """The time budget of a run: the chosen one, doubled for a fault promoted to a stronger
    profile (it has more examples to get through, and is there because it is found late)."""
    if options.time_budget is None or profile == options.profile:
        return options.time_budget
    return 2 * options.time_budget


def _outcome(name: str, family: str, profile: str, suite: SuiteResult,
             skipped: tuple[str, ...]) -> FaultOutcome:
    failure = suite.failure
    outcome = FaultOutcome(
        name, family, caught=failure is not None, profile=profile, duration=suite.duration,
        examples=suite.examples, seed=suite.seed, replay=suite.replay,
        skipped_checks=skipped,
    )
    if failure is None:
        return outcome
    first = suite.first_failure
    return replace(
        outcome,
        check=failure.check,
        message=str(failure).splitlines()[0][:300],
        first_check=first.check if first else failure.check,
        first_failure=first.seconds if first else suite.duration,
        examples_to_failure=first.examples if first else None,
        story_steps=len(suite.story),
        replay=suite.replay,
        flaky=suite.flaky,
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


__all__ = [
    "CLEAN",
    "NEEDS_PROFILE",
    "SHADOWED_BY",
    "FaultOutcome",
    "SelftestOptions",
    "SelftestResult",
    "chosen_faults",
    "profile_for",
    "run_one",
    "run_selftest",
]
