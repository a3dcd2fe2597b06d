"""How long the suite waits for an implementation: webhooks at the end of an example, and
objects that differ from the model (polled for asynchronous implementations).

Every expected webhook is waited for up to ``--webhook-timeout``, except the event types that
are *lost*: a type that once failed to arrive within that timeout, and has not been delivered
since. Once every other expected webhook is in, a lost type gets only :data:`LOST_GRACE`
seconds more (never more than the timeout itself).

An object read back that differs from the model is polled for up to ``--settle-timeout``, in
case the implementation is still at work. Once the run has failed (every example after that is
Hypothesis shrinking the failure), and as long as polling has never once turned a difference
into a match in this run, it is polled for only :data:`SETTLE_GRACE` seconds.

Without these, each example of the shrinker waited the whole timeout again: against a server
that never sends one event type, a failure found in seconds took five minutes to be reported
(Hypothesis's limit for shrinking), unshrunk; against a synchronous server with a state bug,
3 min 37 s instead of 17 s. The verdicts do not change: a webhook that once did not come
within the timeout is missing either way, and where polling has never helped, it does not
help the shrinker's examples either. The other webhooks, and an implementation that does
settle late, are waited for as long as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: How long a lost event type is waited for once every other expected webhook has arrived
#: (deliveries of one step go out together; a loopback delivery takes milliseconds).
LOST_GRACE = 0.25

#: How long an object that differs from the model is polled while shrinking, as long as
#: polling has never helped in the run.
SETTLE_GRACE = 0.1


@dataclass
class Patience:
    """What the run has taught the suite about waiting for the implementation."""

    #: Event types that once did not arrive within the timeout, and have not been delivered since.
    lost: set[str] = field(default_factory=set)
    #: How many waits lasted the whole timeout and still missed a webhook.
    full_waits_in_vain: int = 0
    #: Whether polling has ever turned an object that differed from the model into a match.
    settled_late: bool = False
    _seen: int = 0

    def settle_timeout(self, timeout: float, *, shrinking: bool) -> float:
        """How long to poll objects that differ from the model (``shrinking``: the run has
        failed already)."""
        if shrinking and not self.settled_late:
            return min(SETTLE_GRACE, timeout)
        return timeout

    def waited(self, missing: Iterable[str], deliveries: list[str | None]) -> None:
        """Learn from one wait that ended with the types ``missing`` still missing;
        ``deliveries`` are the types of every delivery the receiver has had in this run."""
        newly = set(missing) - self.lost  # each was waited for the whole timeout
        self.lost -= {str(kind) for kind in deliveries[self._seen:]}
        self._seen = len(deliveries)
        if newly:
            self.full_waits_in_vain += 1
            self.lost |= newly
