"""What check-trace reads, turned into one shape: :class:`Seen` exchanges and :class:`Heard`
events, each with the file and line it came from.

Three kinds of file are read (:func:`read_file` tells them apart by their content): a trace of
``run --record`` or ``serve --record`` (JSON Lines, ``trace.schema.json``), a HAR file
(:mod:`.har`), and pages of ``GET /events`` (one page, or a JSON array of pages). A file that is
none of these, or breaks its format, is a :class:`~cxpay_conformance.errors.UsageError` that
names the file and line (exit code 2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from cxpay_conformance.errors import UsageError
from cxpay_conformance.trace.har import har_records
from cxpay_conformance.trace.records import EVENT_LIST_MERCHANT, Heard, Record, Seen, lines_of


@cache
def trace_schema() -> jsonschema.Draft202012Validator:
    """The validator of one trace line (``trace.schema.json``)."""
    schema = json.loads((Path(__file__).parent / "trace.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


@cache
def _kind_schema(kind: str) -> jsonschema.Draft202012Validator:
    """The validator of one kind of line (``header``, ``exchange``, ``webhook``): a line of a known
    kind is validated against its own branch only, three times faster than the whole ``oneOf``."""
    whole = trace_schema()
    branch = {"$defs": whole.schema["$defs"], **whole.schema["$defs"][kind]}
    return jsonschema.Draft202012Validator(branch)


#: A line's kind -> the branch of trace.schema.json it must match.
_BRANCHES = {"trace": "header", "exchange": "exchange", "webhook": "webhook"}


def read_file(path: str | Path) -> list[Record]:
    """Every exchange and event of one file, in the file's order.

    >>> [type(r).__name__ for r in read_file("run.trace.jsonl")][:2]
    ['Seen', 'Seen']
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    first = text.lstrip()[:1]
    if first == "{" and _looks_like_trace(text):
        return list(_trace_records(name, text))
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{name}: neither a trace (JSON Lines, first line {{\"kind\": \"trace\", ...}}), "
                         f"a HAR file nor pages of GET /events (JSON): {exc}") from None
    if isinstance(document, dict) and "log" in document:
        return har_records(name, text, document)
    if _is_page(document) or (isinstance(document, list) and document and all(map(_is_page, document))):
        return list(_listed(name, text, document if isinstance(document, list) else [document]))
    raise UsageError(f"{name}: not a file check-trace reads: expected a trace of run/serve --record (JSON Lines), "
                     "a HAR file ({\"log\": ...}), or pages of GET /events ({\"object\": \"list\", \"data\": [...]}, "
                     "or a JSON array of them)")


def _looks_like_trace(text: str) -> bool:
    head = text.lstrip().split("\n", 1)[0]
    try:
        first = json.loads(head)
    except ValueError:
        return False
    return isinstance(first, dict) and first.get("kind") == "trace"


def _trace_records(name: str, text: str) -> Iterator[Record]:
    validator = trace_schema()
    for number, raw in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 may be in a string
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as exc:
            raise UsageError(f"{name}:{number}: not JSON ({exc}); a trace has one JSON object a line") from None
        kind = record.get("kind") if isinstance(record, dict) else None
        quick = _kind_schema(_BRANCHES[kind]) if isinstance(kind, str) and kind in _BRANCHES else validator
        errors = [] if quick.is_valid(record) else sorted(quick.iter_errors(record),
                                                           key=lambda e: list(e.absolute_path))
        if errors:
            worst = jsonschema.exceptions.best_match(errors)
            where = "/".join(str(p) for p in worst.absolute_path) or "(the line)"
            raise UsageError(f"{name}:{number}: breaks the trace format (trace.schema.json, docs/traces.md): "
                             f"{where}: {worst.message}")
        kind = record["kind"]
        if kind == "exchange":
            request, response = record["request"], record["response"]
            yield Seen(name, number, record["operation"], record["object"], record["merchant"], record["auth"],
                       request["method"], request["path"], request["query"],
                       request["headers"].get("Idempotency-Key"), request["body"], response["status"],
                       response["body"], record["started_at"], record["ended_at"])
        elif kind == "webhook":
            yield Heard(name, number, record["at"], record["event"], "webhook", record.get("merchant"))


def _is_page(value: Any) -> bool:
    return isinstance(value, dict) and value.get("object") == "list" and isinstance(value.get("data"), list)


_EVENT_OBJECT = re.compile(r'"object"\s*:\s*"event"')


def _listed(name: str, text: str, pages: list[Any]) -> Iterator[Heard]:
    lines = lines_of(text, _EVENT_OBJECT)
    index = 0
    complete = pages[-1].get("has_more") is False
    total = sum(len(page["data"]) for page in pages)
    for page_number, page in enumerate(pages, start=1):
        for event in page["data"]:
            if not isinstance(event, dict) or not isinstance(event.get("id"), str) \
                    or not isinstance(event.get("data"), dict) or not isinstance(event.get("created"), int):
                raise UsageError(f"{name}: page {page_number} holds an entry that is not an event "
                                 "(id, type, created, data.object): {str(event)[:120]}")
            line = lines[index] if index < len(lines) else 1
            index += 1
            # The last event of a list that says it ends (has_more: false) closes it: nothing may be owed after.
            how = "listed-end" if complete and index == total else "listed"
            yield Heard(name, line, float(event["created"]), event, how, EVENT_LIST_MERCHANT)
