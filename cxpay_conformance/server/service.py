"""The sandbox's application service: how a write request becomes one committed transaction.

Each merchant's writes run one at a time, under that merchant's lock, from reading the objects
to committing the transaction. The lock is per merchant rather than per payment because every
write also reads the merchant's test clock, which an advance moves while it changes many
payments at once; the merchant is the unit a test clock keeps consistent (Stripe's test clocks
likewise freeze their objects while they advance). This serialises every change to one payment,
as the spec's decision on concurrency requires; different merchants never wait for each other,
and reads never wait at all.

Idempotency keys are claimed before the lock and answered after the commit, so a second request
with a key in flight is told so at once instead of queueing behind the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from cxpay_conformance.server.api_errors import ApiError
from cxpay_conformance.server.clock import first_seen_time
from cxpay_conformance.server.config import ServerConfig
from cxpay_conformance.server.faults import injected
from cxpay_conformance.server.idempotency import Answer, Claim, InFlightKeys
from cxpay_conformance.server.json_codec import encode
from cxpay_conformance.server.store import Store, UnitOfWork
from cxpay_conformance.server.transaction import Transaction

Action = Callable[[Transaction], Answer]

#: How long a faulted write waits in its race window (the ``linearizability`` faults of
#: :mod:`.faults`) between its check and its act, as a real service would while the card
#: network or its database answers: long enough for a concurrent request to pass the same check.
NETWORK_ROUND_TRIP = 0.05


async def race_window() -> None:
    """The pause of a faulted write between its check and its act (``no_lock_in_pay``,
    ``idempotency_insert_after_work``, ``expire_and_network_both_apply``,
    ``double_cancel_voids_twice``); never called without one of them. Looked up at each call,
    so a test can replace it to hold requests there until they all overlap."""
    await asyncio.sleep(NETWORK_ROUND_TRIP)


def _nothing() -> None:
    pass


#: The merchant an idempotency key is filed under with the ``idempotency_global_scope`` fault,
#: and the one test clock every merchant runs on with ``global_test_clock``.
GLOBAL_SCOPE = "*"


class Sandbox:
    """Runs write actions as transactions and keeps the in-flight idempotency keys.

    ``on_deliveries`` is called after a commit that owes webhook deliveries (the dispatcher's
    wake-up); ``wall_clock`` is real time, for scheduling those deliveries.
    """

    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        on_deliveries: Callable[[], None] = _nothing,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self._on_deliveries = on_deliveries
        self._wall_clock = wall_clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._keys = InFlightKeys(config.faults)

    def _lock(self, merchant: str) -> asyncio.Lock:
        lock = self._locks.get(merchant)
        if lock is None:
            lock = self._locks[merchant] = asyncio.Lock()
        return lock

    def clock_of(self, merchant: str) -> str:
        """Whose test clock ``merchant``'s requests run on: its own (with the
        ``global_test_clock`` fault, one clock the whole sandbox shares)."""
        return GLOBAL_SCOPE if injected(self.config.faults, "global_test_clock") else merchant

    async def see(self, merchant: str) -> None:
        """Start the merchant's test clock the first time the merchant is seen."""
        clock = self.clock_of(merchant)
        if self.store.clock(clock) is not None:
            return
        async with self._lock(merchant):
            if self.store.clock(clock) is None:
                await self.store.commit(UnitOfWork(clocks={clock: first_seen_time()}))

    def claim(self, merchant: str, key: str, fingerprint: str) -> Claim | Answer:
        """Claim an idempotency key for a new request, or answer at once (see
        :meth:`~.idempotency.InFlightKeys.claim`)."""
        now = self.store.clock(self.clock_of(merchant)) or 0
        faults = self.config.faults
        scope = GLOBAL_SCOPE if injected(faults, "idempotency_global_scope") else merchant
        remembered = self.store.idempotency(scope, key)
        if injected(faults, "idempotency_ignored"):
            remembered = None
        return self._keys.claim(scope, key, fingerprint, remembered, now)

    def release(self, claim: Claim) -> None:
        self._keys.release(claim)

    async def write(
        self, merchant: str, action: Action, claim: Claim | None = None, *, locked: bool = True
    ) -> Answer:
        """Run ``action`` as one transaction of ``merchant`` and commit it.

        An :class:`ApiError` the action raises is the answer; with an idempotency ``claim`` it
        is remembered like any other answer (the request ran: its object was missing or in
        the wrong state) and returned, without a claim it is raised. ``locked=False`` is only
        for the race faults that bypass the lock (``no_lock_in_pay`` and the like, see
        :func:`race_window`): the write reads, waits in its race window, then commits.
        """
        if claim is not None and injected(self.config.faults, "idempotency_insert_after_work"):
            # The key was only looked up, not held (InFlightKeys.claim): until this request's
            # answer is committed, a second request with the key passes the same look-up.
            await race_window()
        lock = self._lock(merchant) if locked else contextlib.nullcontext()
        async with lock:
            now = self.store.clock(self.clock_of(merchant))
            if now is None:
                raise RuntimeError(f"merchant {merchant} has no clock; call see() first")
            tx = Transaction(self.store, merchant, now, self._wall_clock(), self.config.faults,
                             clock=self.clock_of(merchant))
            try:
                answer = action(tx)
            except ApiError as error:
                if claim is None:
                    raise
                tx = Transaction(self.store, merchant, now, self._wall_clock(), self.config.faults,
                                 clock=self.clock_of(merchant))
                answer = Answer(error.status, error.body())
            # An answer that cannot be written must not leave its change behind (the store
            # would keep a change its client never heard of): encode it before committing.
            encode(answer.body)
            if claim is not None:
                tx.work.idempotency.append(claim.record(answer, now))
            if not locked:
                await race_window()
            await self.store.commit(tx.work)
        if tx.work.deliveries:
            self._on_deliveries()
        return answer
