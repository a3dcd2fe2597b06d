"""HAR files: read the exchanges of one (what browsers, mitmproxy and HTTP clients export), and
write one from an httpx client's session (:class:`HarRecorder`).

A HAR is checked against the parts of the HAR 1.2 format check-trace relies on
(``har.schema.json``: the required fields of the log, its creator and its entries). No HAR
library is used: the maintained ones (haralyzer, har-capture) parse or capture for analysis and
would add a dependency to read five fields, and none validates. The merchant of a request is
told apart by its ``Authorization`` header, which is read in memory and never written: the
label is a hash of the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jsonschema

from cxpay_conformance.errors import UsageError
from cxpay_conformance.trace.records import Record, Seen, lines_of

_REQUEST_KEY = re.compile(r'"request"\s*:')


@cache
def har_schema() -> jsonschema.Draft202012Validator:
    """The validator of a HAR document (``har.schema.json``)."""
    schema = json.loads((Path(__file__).parent / "har.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def merchant_label(authorization: str | None) -> tuple[str, str | None]:
    """``(auth, merchant)`` for an ``Authorization`` header: the merchant named by a hash of its key."""
    scheme, _, key = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return "missing", None
    return "merchant", "key#" + hashlib.sha256(key.strip().encode()).hexdigest()[:10]


def _json_text(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"non_json_body": text[:500]}


def har_records(name: str, text: str, document: Any) -> list[Record]:
    """The exchanges of a HAR document (``text`` is its source, for the line of each entry)."""
    errors = list(har_schema().iter_errors(document))
    if errors:
        worst = jsonschema.exceptions.best_match(errors)
        where = "/".join(str(p) for p in worst.absolute_path) or "(the document)"
        raise UsageError(f"{name}: not a valid HAR 1.2 file: {where}: {worst.message}")
    lines = lines_of(text, _REQUEST_KEY)
    records: list[Record] = []
    for index, entry in enumerate(document["log"]["entries"]):
        request, response = entry["request"], entry["response"]
        headers = {h["name"].lower(): h["value"] for h in request["headers"]}
        auth, merchant = merchant_label(headers.get("authorization"))
        url = urlsplit(request["url"])
        content = response["content"]
        answer_text = content.get("text")
        if answer_text is not None and content.get("encoding") == "base64":
            answer_text = base64.b64decode(answer_text).decode("utf-8", "replace")
        started = datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00")).timestamp()
        records.append(Seen(
            name, lines[index] if index < len(lines) else 1, None, None, merchant, auth,
            request["method"].upper(), url.path, dict(parse_qsl(url.query)), headers.get("idempotency-key"),
            _json_text((request.get("postData") or {}).get("text")), response["status"], _json_text(answer_text),
            started, started + entry["time"] / 1000, whole_session=True))
    return records


class HarRecorder:
    """Builds a HAR 1.2 document from an httpx client's exchanges, through its event hooks.

    >>> recorder = HarRecorder()
    >>> client = httpx.Client(base_url=url, event_hooks=recorder.hooks())
    >>> client.get("/events", headers=...)
    >>> recorder.save("session.har")

    The ``Authorization`` header is kept, as a HAR export keeps it (``keep_authorization=False``
    writes ``[redacted]`` instead): check-trace tells merchants apart by it, in memory.
    """

    def __init__(self, *, keep_authorization: bool = True) -> None:
        self.entries: list[dict[str, Any]] = []
        self.keep_authorization = keep_authorization
        self._started: dict[int, float] = {}

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self._on_request], "response": [self._on_response]}

    def _on_request(self, request: httpx.Request) -> None:
        self._started[id(request)] = time.time()

    def _on_response(self, response: httpx.Response) -> None:
        request = response.request
        started = self._started.pop(id(request), time.time())
        response.read()
        ended = time.time()
        headers = [{"name": k, "value": v if k.lower() != "authorization" or self.keep_authorization
                    else "[redacted]"} for k, v in request.headers.items()]
        body = request.content.decode("utf-8", "replace")
        entry: dict[str, Any] = {
            "startedDateTime": datetime.fromtimestamp(started, UTC).isoformat().replace("+00:00", "Z"),
            "time": round((ended - started) * 1000, 3),
            "request": {
                "method": request.method, "url": str(request.url), "httpVersion": "HTTP/1.1", "cookies": [],
                "headers": headers,
                "queryString": [{"name": k, "value": v} for k, v in parse_qsl(request.url.query.decode())],
                "headersSize": -1, "bodySize": len(request.content),
            },
            "response": {
                "status": response.status_code, "statusText": response.reason_phrase, "httpVersion": "HTTP/1.1",
                "cookies": [], "headers": [{"name": k, "value": v} for k, v in response.headers.items()],
                "content": {"size": len(response.content),
                            "mimeType": response.headers.get("content-type", "application/octet-stream"),
                            "text": response.text},
                "redirectURL": "", "headersSize": -1, "bodySize": len(response.content),
            },
            "cache": {},
            "timings": {"send": 0, "wait": round((ended - started) * 1000, 3), "receive": 0},
        }
        if body:
            entry["request"]["postData"] = {"mimeType": request.headers.get("content-type", ""), "text": body}
        self.entries.append(entry)

    def document(self) -> dict[str, Any]:
        return {"log": {"version": "1.2", "creator": {"name": "cxpay-conformance HarRecorder", "version": "1"},
                        "entries": list(self.entries)}}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.document(), indent=2) + "\n", encoding="utf-8")
