"""The webhook dispatcher: a background task that works through the outbox of pending
deliveries, POSTs each event to its endpoint, and retries with exponential backoff.

Delivery is at least once. A delivery is marked delivered only after a 2xx answer has been
committed; a failure (another status, a timeout, a refused connection) is committed with the
time of the next attempt, until the policy's attempts run out. A delivery interrupted by a stop
or a crash is still pending in the store and is sent again after restart, with the same event
id. Deliveries to one endpoint may run concurrently, so order is not guaranteed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from cxpay_conformance.server import ids
from cxpay_conformance.server.config import WebhookPolicy
from cxpay_conformance.server.faults import NO_FAULTS, injected
from cxpay_conformance.server.signatures import HEADER, signature_header
from cxpay_conformance.server.store import Store, UnitOfWork
from cxpay_conformance.server.webhook_endpoints import Delivery, DeliveryState, WebhookEndpoint
from cxpay_conformance.server.webhook_hosts import host_allowed

_log = logging.getLogger("cxpay_conformance.server.webhooks")

MAX_CONCURRENT_ATTEMPTS = 32
#: How long :meth:`WebhookDispatcher.stop` waits for its cancelled tasks before it gives up on
#: them, so that a shutdown ends in bounded time whatever a task does.
STOP_TIMEOUT = 5.0
USER_AGENT = "CXPay-Sandbox/1.0 (+webhooks)"


class WebhookDispatcher:
    """Sends the store's pending deliveries; :meth:`wake` after committing new ones.
    ``faults`` are the sandbox's injected bugs (:mod:`.faults`); none by default."""

    def __init__(
        self,
        store: Store,
        policy: WebhookPolicy,
        wall_clock: Callable[[], float] = time.time,
        *,
        faults: frozenset[str] = NO_FAULTS,
        on_sent: Callable[[str, dict[str, Any], str, int | None], None] | None = None,
    ) -> None:
        self._store = store
        #: Told of every attempt: (merchant, event sent, endpoint URL, its answer or None); serve --record.
        self._on_sent = on_sent
        self._policy = policy
        self._faults = faults
        self._wall_clock = wall_clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._attempts: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._secrets: dict[str, str] = {}

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        """Start working in the background, on the running event loop."""
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="cxpay-webhook-dispatcher")

    async def stop(self) -> None:
        """Stop at once; attempts cut short stay pending and are sent after restart.

        The flag, not only the cancel, ends the loop: on Python 3.11 a cancel that arrives
        as a finishing attempt wakes the loop can be swallowed by ``asyncio.wait_for``, and
        the loop then ran on while this method waited for it.
        """
        self._stopping = True
        self._wake.set()
        tasks = [*self._attempts.values(), *([self._task] if self._task else [])]
        for task in tasks:
            task.cancel()
        if tasks:
            done, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    _log.error("webhook task %s failed", task.get_name(), exc_info=task.exception())
            for task in stuck:
                _log.warning("webhook task %s did not stop within %gs", task.get_name(), STOP_TIMEOUT)
        self._task = None

    async def _run(self) -> None:
        timeout = httpx.Timeout(self._policy.timeout)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            while not self._stopping:
                self._wake.clear()
                next_due = self._start_due_attempts(client)
                wait = None if next_due is None else max(next_due - self._wall_clock(), 0.0)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()

    def _start_due_attempts(self, client: httpx.AsyncClient) -> float | None:
        """Start every due delivery not already being sent; answer when the next one is due
        (None: nothing is waiting, sleep until woken)."""
        now = self._wall_clock()
        next_due: float | None = None
        if self._stopping:
            return None
        for delivery in self._store.pending_deliveries():
            if delivery.id in self._attempts:
                continue
            if delivery.next_attempt_at > now or len(self._attempts) >= MAX_CONCURRENT_ATTEMPTS:
                due = max(delivery.next_attempt_at, now)
                if len(self._attempts) < MAX_CONCURRENT_ATTEMPTS:
                    next_due = due if next_due is None else min(next_due, due)
                continue
            self._attempts[delivery.id] = asyncio.create_task(self._attempt(client, delivery))
        return next_due

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        try:
            tried = await self._send(client, delivery)
            await self._store.commit(UnitOfWork(deliveries={tried.id: tried}))
        except Exception:
            _log.exception("webhook delivery %s failed unexpectedly; it stays pending", delivery.id)
        finally:
            self._attempts.pop(delivery.id, None)
            self.wake()

    async def _send(self, client: httpx.AsyncClient, delivery: Delivery) -> Delivery:
        """Try ``delivery`` once; answer it as it is after the try."""
        endpoint = self._store.endpoint(delivery.endpoint_id)
        event = self._store.event(delivery.event_id)
        deleted = endpoint is not None and endpoint.deleted
        if deleted and injected(self._faults, "deleted_endpoint_still_receives"):
            deleted = False
        if endpoint is None or deleted or event is None:
            return replace(delivery, state=DeliveryState.DROPPED)
        if not host_allowed(endpoint.url, self._policy.allowed_hosts):
            # Registered under other options (a --db from another start): never sent.
            refused = "its host is not allowed (serve --webhook-allow-host)"
            _log.warning(
                "webhook %s of event %s to %s not sent: %s", delivery.id, event.id, endpoint.url, refused
            )
            return replace(delivery, state=DeliveryState.GAVE_UP, last_error=refused)
        payload = event.to_api()
        if delivery.attempts and injected(self._faults, "redelivery_new_event_id"):
            payload["id"] = ids.new_id(ids.EVENT)
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            HEADER: self._signature(self._secret_of(endpoint), body),
        }
        error: str | None = None
        status: int | None = None
        try:
            async with client.stream("POST", endpoint.url, content=body, headers=headers) as answer:
                status = answer.status_code
                if not 200 <= answer.status_code < 300:
                    error = f"the endpoint answered HTTP {answer.status_code}"
        except Exception as exc:  # any failure to get an answer is a failed attempt
            error = f"{type(exc).__name__}: {exc}"
        if self._on_sent is not None:
            self._on_sent(endpoint.merchant, payload, endpoint.url, status)
        attempts = delivery.attempts + 1
        if error is None and attempts == 1 and injected(self._faults, "redelivery_new_event_id"):
            # At least once allows a second delivery; the fault is the new id it carries.
            return replace(delivery, attempts=attempts, next_attempt_at=self._wall_clock())
        if error is None:
            return replace(
                delivery, attempts=attempts, state=DeliveryState.DELIVERED, last_error=None
            )
        if attempts >= self._policy.max_attempts or injected(self._faults, "webhook_never_retried"):
            _log.warning(
                "webhook %s of event %s to %s gave up after %d attempts: %s",
                delivery.id,
                event.id,
                endpoint.url,
                attempts,
                error,
            )
            return replace(
                delivery, attempts=attempts, state=DeliveryState.GAVE_UP, last_error=error
            )
        delay = self._policy.delay_after(attempts)
        retry_at = self._wall_clock() + delay
        _log.info(
            "webhook %s of event %s to %s failed (attempt %d of %d): %s; next try in %gs at %s",
            delivery.id,
            event.id,
            endpoint.url,
            attempts,
            self._policy.max_attempts,
            error,
            delay,
            time.strftime("%H:%M:%S", time.localtime(retry_at)),
        )
        return replace(delivery, attempts=attempts, next_attempt_at=retry_at, last_error=error)

    def _secret_of(self, endpoint: WebhookEndpoint) -> str:
        """The secret ``endpoint``'s deliveries are signed with: its own (with the
        ``one_secret_for_all_endpoints`` fault, a secret cached per merchant: the first one
        this dispatcher signed with for the endpoint's merchant)."""
        if injected(self._faults, "one_secret_for_all_endpoints"):
            return self._secrets.setdefault(endpoint.merchant, endpoint.secret)
        return endpoint.secret

    def _signature(self, secret: str, body: bytes) -> str:
        """The ``CXPay-Signature`` header of one attempt: signed now, over the body sent."""
        timestamp = int(self._wall_clock())
        if injected(self._faults, "signature_wrong_secret"):
            secret = secret.removeprefix("whsec_")
        if injected(self._faults, "signature_stale_timestamp"):
            timestamp -= 3600
        if injected(self._faults, "signature_over_other_body"):
            body = json.dumps(json.loads(body), indent=2).encode()
        return signature_header(secret, timestamp, body)
