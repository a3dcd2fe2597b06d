"""The one shape check-trace reads every kind of file into: :class:`Seen` exchanges and
:class:`Heard` events, each with the file and line it came from (:mod:`.sources` reads traces and
pages of ``GET /events`` into it, :mod:`.har` HAR files)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The merchant every page of ``GET /events`` given in one check belongs to.
EVENT_LIST_MERCHANT = "the event list's merchant"


@dataclass(frozen=True, slots=True)
class Seen:
    """One request and its answer, as a trace shows it. ``merchant`` labels the key sent
    (never the key); ``auth`` is ``merchant``, ``missing`` or ``invalid``. ``whole_session``: it
    comes from a HAR file, which holds a whole browser or proxy session (pages, other hosts), so a
    request off the contract is none of the spec's business."""

    file: str
    line: int
    operation: str | None
    object_id: str | None
    merchant: str | None
    auth: str
    method: str
    path: str
    query: Mapping[str, str]
    idempotency_key: str | None
    body: Any
    status: int
    answer: Any
    started: float
    ended: float
    whole_session: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Heard:
    """One event seen outside an answer: a webhook delivery (``how`` ``webhook``) or an entry of a
    page of ``GET /events`` (``listed``; ``listed-end`` for the last one of a list that says it
    ends); ``at`` orders it among the exchanges."""

    file: str
    line: int
    at: float
    event: Mapping[str, Any]
    how: str
    merchant: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


Record = Seen | Heard


def lines_of(text: str, pattern: re.Pattern[str]) -> list[int]:
    """The line of each match of ``pattern`` in ``text``, in order (a JSON parser keeps no lines)."""
    return [text.count("\n", 0, match.start()) + 1 for match in pattern.finditer(text)]
