"""How the suite reaches an implementation: the :class:`Adapter` protocol.

The suite speaks in the contract's operations (``operationId`` of ``spec/openapi.yaml``) and
never in URLs: an adapter turns "perform this operation on this object with this body" into
whatever the implementation understands and gives back an :class:`Exchange`. The HTTP
adapter (:mod:`.http_adapter`) covers any implementation of the wire contract; one class
with a ``perform`` method plugs in an implementation of another shape (an SDK, a message
queue, a Python object)::

    class MyAdapter:
        def perform(self, operation_id, object_id=None, body=None, *, api_key=USE_DEFAULT_KEY,
                    idempotency_key=None, query=None):
            status, answer = my_sdk.call(operation_id, object_id, body, query)
            return Exchange(operation_id, "CALL", operation_id, body, status, answer)

        def close(self):
            pass

The concurrent phase sends several requests at once from threads: it gives each thread the
adapter's ``fork()`` (a copy on a connection of its own) where the adapter has one, and the
adapter itself otherwise, which must then be safe to call from several threads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable


class _UseDefaultKey:
    def __repr__(self) -> str:
        return "USE_DEFAULT_KEY"


#: Passed as ``api_key`` to mean "the key the adapter was configured with".
USE_DEFAULT_KEY: Final = _UseDefaultKey()


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and the answer to it, as a report shows them (keys never included)."""

    operation_id: str
    method: str
    path: str
    body: Any
    status: int
    answer: Any
    headers: dict[str, str] = field(default_factory=dict)
    key_label: str = "default"
    elapsed: float = 0.0

    @property
    def error_code(self) -> str | None:
        """``error.code`` of an error answer, else None."""
        if isinstance(self.answer, dict) and isinstance(self.answer.get("error"), dict):
            code = self.answer["error"].get("code")
            return str(code) if code is not None else None
        return None

    @property
    def error_type(self) -> str | None:
        if isinstance(self.answer, dict) and isinstance(self.answer.get("error"), dict):
            kind = self.answer["error"].get("type")
            return str(kind) if kind is not None else None
        return None

    def describe(self) -> str:
        """``POST /path {"body"} -> 409 invalid_state`` in one line."""
        body = f" {json.dumps(self.body, sort_keys=True)}" if self.body is not None else ""
        answer = self.error_code or (self.answer.get("status") if isinstance(self.answer, dict) else None)
        suffix = f" {answer}" if answer else ""
        key = "" if self.key_label == "default" else f" (key: {self.key_label})"
        return f"{self.method} {self.path}{body}{key} -> {self.status}{suffix}"


@runtime_checkable
class Adapter(Protocol):
    """What the suite needs of an implementation: perform one operation of the contract.

    ``api_key`` is :data:`USE_DEFAULT_KEY` for the configured key, ``None`` for no key, or
    another key string (the suite uses the second merchant's key and a made-up one). ``query``
    holds an operation's query parameters (``GET /events`` takes ``limit`` and
    ``starting_after``), None for none. Raise
    :class:`~cxpay_conformance.errors.ImplementationUnreachable` when the implementation does
    not answer or does not speak the protocol.
    """

    def perform(
        self,
        operation_id: str,
        object_id: str | None = None,
        body: Any = None,
        *,
        api_key: str | _UseDefaultKey | None = USE_DEFAULT_KEY,
        idempotency_key: str | None = None,
        query: Mapping[str, str | int] | None = None,
    ) -> Exchange: ...

    def close(self) -> None: ...
