"""The options of a suite run, as one frozen value (the CLI and the pytest plugin build it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cxpay_conformance.suite.shares import WHOLE, Share

#: name -> (max_examples, max_steps): how hard each profile tries.
PROFILES: dict[str, tuple[int, int]] = {
    "quick": (30, 25),
    "ci": (150, 40),
    "thorough": (400, 60),
}

#: name -> test cases of the concurrent phase (each run ``race_repeats`` times): none in
#: ``quick``, which stays a smoke test; the release gates (``ci``, ``thorough``) race.
PROFILE_RACES: dict[str, int] = {"quick": 0, "ci": 40, "thorough": 120}

#: The phases of a run, in the order they run.
PHASES = ("sequential", "concurrent")


@dataclass(frozen=True)
class SuiteConfig:
    """How to run the suite. ``base_url=None`` means: start the embedded reference server."""

    base_url: str | None = None
    embedded: bool = False
    api_key: str | None = None
    second_api_key: str | None = None
    spec_path: str | None = None
    seed: int | None = None
    profile: str = "ci"
    max_examples: int | None = None
    max_steps: int | None = None
    time_budget: float | None = None
    #: The phases to run (see :data:`PHASES`); the concurrent one only where it has test cases.
    phases: tuple[str, ...] = PHASES
    race_examples: int | None = None
    race_repeats: int = 3
    checks: tuple[str, ...] = ()
    skip_checks: tuple[str, ...] = ()
    webhook_host: str | None = None
    webhook_port: int = 0
    webhook_timeout: float = 5.0
    webhook_grace: float = 0.0
    #: Seconds a refused delivery has to come again (None: the spec's protocol.webhook_retry_window).
    webhook_retry_window: float | None = None
    settle_timeout: float = 2.0
    request_timeout: float = 10.0
    report_dir: str = "cxpay-report"
    #: Seconds Hypothesis may spend shrinking a failure once found (None: its own cap, 5 minutes).
    shrink_budget: float | None = None
    database: str | None = ".hypothesis/cxpay"
    #: The share of the run's batches to run (``run --shard``, a worker's, a pytest shard's;
    #: see :mod:`.shares`); ``Share()`` is all of them.
    share: Share = WHOLE
    #: Worker processes to run the share in at once (``run --workers``; :mod:`.workers`); each
    #: tests as a merchant of its own: ``api_key``/``second_api_key`` for the first, then
    #: ``more_merchants``' (key, second key) pairs.
    workers: int = 1
    more_merchants: tuple[tuple[str, str | None], ...] = ()
    #: How the front end spells its options, for messages: "" on the command line (--api-key),
    #: "cxpay-" in the pytest plugin (--cxpay-api-key).
    option_prefix: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_embedded(cls, server: Any, **options: Any) -> SuiteConfig:
        """A run against an embedded reference server (``cxpay_conformance.embedded``): its URL
        and both merchants' keys, and ``options``."""
        return cls(base_url=server.base_url, embedded=True, api_key=server.api_key,
                   second_api_key=server.second_api_key, **options)

    @property
    def examples(self) -> int:
        return self.max_examples or PROFILES[self.profile][0]

    @property
    def steps(self) -> int:
        return self.max_steps or PROFILES[self.profile][1]

    @property
    def races(self) -> int:
        """Test cases of the concurrent phase (0: it does not run)."""
        if "concurrent" not in self.phases:
            return 0
        if self.race_examples is not None:
            return self.race_examples
        # Fewer examples asked for (a replay, a shard of the pytest plugin): as many fewer races.
        examples, _steps = PROFILES[self.profile]
        return PROFILE_RACES[self.profile] * min(self.examples, examples) // examples
