"""How long the suite waits, at the end of an example, for the webhooks it expects.

Every expected webhook is waited for up to ``--webhook-timeout``, except the event types that
are *lost*: a type that once failed to arrive within that timeout, and has not been delivered
since. Once every other expected webhook is in, a lost type gets only :data:`LOST_GRACE`
seconds more (never more than the timeout itself).

Without that, an implementation that never sends one event type made each example of the
shrinker that expects it wait the whole timeout again: a failure found in seconds took five
minutes (Hypothesis's limit for shrinking) to be reported, and came unshrunk. The verdict
does not change: a type that once did not come within the timeout is missing either way, and
the other types are still waited for as long as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: How long a lost event type is waited for once every other expected webhook has arrived
#: (deliveries of one step go out together; a loopback delivery takes milliseconds).
LOST_GRACE = 0.25


@dataclass
class Patience:
    """Which event types the suite has stopped waiting long for in this run."""

    #: Event types that once did not arrive within the timeout, and have not been delivered since.
    lost: set[str] = field(default_factory=set)
    #: How many waits lasted the whole timeout and still missed a webhook.
    full_waits_in_vain: int = 0
    _seen: int = 0

    def waited(self, missing: Iterable[str], deliveries: list[str | None]) -> None:
        """Learn from one wait that ended with the types ``missing`` still missing;
        ``deliveries`` are the types of every delivery the receiver has had in this run."""
        self.lost -= {str(kind) for kind in deliveries[self._seen:]}
        self._seen = len(deliveries)
        newly = set(missing) - self.lost
        if newly:  # each was waited for the whole timeout
            self.full_waits_in_vain += 1
            self.lost |= newly
