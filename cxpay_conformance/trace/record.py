"""Writing traces: every exchange of a run, and every webhook it received, as JSON Lines.

:class:`TraceWriter` appends one line per record to a file (thread-safe: the concurrent phase
performs from several threads at once); :class:`RecordingAdapter` wraps any
:class:`~cxpay_conformance.suite.adapter.Adapter` and writes each exchange it performs. The
format is ``trace.schema.json`` beside this module (docs/traces.md explains it). What may
open a door is never written: no API key (a request names its merchant by the suite's label,
``default`` or ``second``), no ``Authorization`` or signature header, and no webhook secret
(an answer's ``secret`` becomes ``"[redacted]"``). The sandbox writes the same format itself
(``server/trace_log.py``): the server imports nothing of ours.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from cxpay_conformance.errors import UsageError
from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY, Adapter, Exchange, _UseDefaultKey
from cxpay_conformance.suite.receiver import Delivery

FORMAT = "cxpay-trace/1"
#: The request headers a trace keeps: neither says anything secret.
KEPT_HEADERS = ("Idempotency-Key", "Content-Type")
#: What replaces a secret in an answer.
REDACTED = "[redacted]"
#: Answer fields that are secrets wherever they appear.
SECRET_FIELDS = frozenset({"secret"})


def redacted(value: Any) -> Any:
    """``value`` with every secret field (:data:`SECRET_FIELDS`) replaced by :data:`REDACTED`."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if k in SECRET_FIELDS and v is not None else redacted(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def _tool() -> str:
    try:
        return f"cxpay-conformance {version('cxpay-conformance')}"
    except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
        return "cxpay-conformance"


class TraceWriter:
    """Appends trace records to ``path``, one JSON object a line, the header first.

    >>> with TraceWriter("run.trace.jsonl", source="run") as trace:
    ...     trace.webhook(delivery)
    """

    def __init__(self, path: str | Path, *, source: str = "run") -> None:
        self.path = Path(path)
        try:
            self._file: IO[str] = self.path.open("w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--record {path}: cannot be written ({exc.strerror or exc}); "
                             "choose a path in a folder that exists and is writable") from None
        self._lock = threading.Lock()
        self.records = 0
        self.write({"kind": "trace", "format": FORMAT, "source": source, "started_at": time.time(),
                    "tool": _tool()})

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str)
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line + "\n")
            self._file.flush()
            self.records += 1

    def exchange(self, exchange: Exchange, object_id: str | None, started_at: float, ended_at: float) -> None:
        """Write one exchange (the suite's :class:`Exchange`) that began and ended at these times."""
        split = urlsplit(exchange.path)
        auth, merchant = _auth_of(exchange.key_label)
        headers = {k: v for k, v in exchange.headers.items() if k in KEPT_HEADERS}
        self.write({
            "kind": "exchange", "operation": exchange.operation_id, "object": object_id,
            "merchant": merchant, "auth": auth,
            "request": {"method": exchange.method, "path": split.path, "query": dict(parse_qsl(split.query)),
                        "headers": headers, "body": exchange.body},
            "response": {"status": exchange.status, "body": redacted(exchange.answer)},
            "started_at": started_at, "ended_at": ended_at,
        })

    def webhook(self, delivery: Delivery) -> None:
        """Write one webhook delivery the suite's receiver got (its body, never its signature)."""
        if not isinstance(delivery.event, dict):
            return  # not an event at all: the signatures and openapi checks report it
        self.write({"kind": "webhook", "at": delivery.received_at, "event": redacted(delivery.event),
                    "signature_ok": delivery.signature_ok})

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _auth_of(label: str) -> tuple[str, str | None]:
    """The trace's ``auth`` and ``merchant`` for one of the HTTP adapter's key labels."""
    if label == "none":
        return "missing", None
    if label == "invalid":
        return "invalid", None
    return "merchant", label


class RecordingAdapter:
    """An adapter that performs through ``inner`` and writes every exchange to ``trace``.

    >>> adapter = RecordingAdapter(HttpAdapter(url, key, contract), TraceWriter("run.jsonl"))
    >>> run_suite(config, adapter=adapter)
    """

    def __init__(self, inner: Adapter, trace: TraceWriter) -> None:
        self.inner = inner
        self.trace = trace

    def fork(self) -> RecordingAdapter:
        """A copy on a connection of its own (the concurrent phase's branches), writing to the same trace."""
        fork = getattr(self.inner, "fork", None)
        return RecordingAdapter(fork() if fork is not None else self.inner, self.trace)

    def perform(
        self,
        operation_id: str,
        object_id: str | None = None,
        body: Any = None,
        *,
        api_key: str | _UseDefaultKey | None = USE_DEFAULT_KEY,
        idempotency_key: str | None = None,
        query: Mapping[str, str | int] | None = None,
    ) -> Exchange:
        extra = {"query": query} if query else {}  # an adapter without lists still works
        started = time.time()
        exchange = self.inner.perform(operation_id, object_id, body, api_key=api_key,
                                      idempotency_key=idempotency_key, **extra)
        self.trace.exchange(exchange, object_id, started, time.time())
        return exchange

    def close(self) -> None:
        self.inner.close()
