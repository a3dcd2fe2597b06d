"""check-trace on HAR files of real HTTP client sessions against the embedded sandbox: one that
Chromium itself recorded (Playwright's ``record_har_path``; the page's ``fetch`` calls, Debian's
chromium, no browser downloaded), and one written by httpx's event hooks (:class:`HarRecorder`).
Both check clean; the same HAR with one answer altered is caught at that entry's line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cxpay_conformance.embedded import EmbeddedServer, embedded_server
from cxpay_conformance.trace.har import HarRecorder, har_schema
from tests.browser import WAIT_MS, system_chromium
from tests.trace.conftest import cli

#: A merchant's session, run by the page: a payment paid with a card that needs 3D Secure and
#: authenticated, one declined, one canceled, the clock moved on, the events listed in pages, a
#: bad request and a request without a key.
SESSION_JS = """async ([key]) => {
  const call = async (method, path, body, auth = true) => {
    const headers = {"Content-Type": "application/json"};
    if (auth) headers["Authorization"] = "Bearer " + key;
    const r = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
    return [r.status, await r.json()];
  };
  const session = {amount: 1999, currency: "eur", success_url: "https://shop.example/ok",
                   cancel_url: "https://shop.example/back"};
  const statuses = [];
  const [s1, a] = await call("POST", "/checkout-sessions", session);
  statuses.push(s1);
  const [s2, paid] = await call("POST", `/test-helpers/checkout-sessions/${a.id}/pay`,
                                {card_number: "4000000000003220"});
  statuses.push(s2);
  statuses.push((await call("POST", `/test-helpers/payment-intents/${paid.id}/authenticate`, {outcome: "pass"}))[0]);
  statuses.push((await call("GET", `/payment-intents/${paid.id}`))[0]);
  const [s3, b] = await call("POST", "/checkout-sessions", {...session, amount: 500});
  statuses.push(s3);
  statuses.push((await call("POST", `/test-helpers/checkout-sessions/${b.id}/pay`,
                            {card_number: "4000000000000002"}))[0]);
  const [s4, c] = await call("POST", "/checkout-sessions", {...session, amount: 700});
  statuses.push(s4);
  statuses.push((await call("GET", `/checkout-sessions/${c.id}`))[0]);
  statuses.push((await call("POST", `/payment-intents/${c.payment_intent}/cancel`))[0]);
  statuses.push((await call("POST", `/checkout-sessions/${c.id}/expire`))[0]);
  statuses.push((await call("POST", "/test-helpers/clock/advance", {seconds: 200000}))[0]);
  statuses.push((await call("POST", "/checkout-sessions", {...session, amount: "lots"}))[0]);
  statuses.push((await call("GET", "/events?limit=3", undefined, false))[0]);
  let after = null;
  for (let page = 0; page < 20; page++) {
    const [s, list] = await call("GET", "/events?limit=3" + (after ? `&starting_after=${after}` : ""));
    statuses.push(s);
    if (!list.has_more) break;
    after = list.data[list.data.length - 1].id;
  }
  return statuses;
}"""


@pytest.fixture
def sandbox() -> Iterator[EmbeddedServer]:
    """A sandbox of the test's own: GET /events lists every event of the merchant, and a HAR must
    start before the payments it shows."""
    with embedded_server() as server:
        yield server


@pytest.fixture(scope="module")
def chromium_har(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("har") / "chromium.har"
    with embedded_server() as sandbox, system_chromium() as browser:
        context = browser.new_context(record_har_path=str(path))
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(sandbox.base_url + "/", wait_until="load")  # the page's origin: its fetch calls are same-origin
        statuses = page.evaluate(SESSION_JS, [sandbox.api_key])
        context.close()  # writes the HAR
    assert statuses[:4] == [200, 200, 200, 200], statuses
    assert 400 in statuses and 401 in statuses
    yield path


def test_a_har_chromium_recorded_checks_clean(chromium_har: Path) -> None:
    document = json.loads(chromium_har.read_text())
    assert document["log"]["creator"]["name"] == "Playwright"
    assert not list(har_schema().iter_errors(document))
    entries = len(document["log"]["entries"])
    assert entries >= 15
    done = cli("check-trace", str(chromium_har))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{entries} exchanges" in done.stdout and ": clean" in done.stdout


def test_the_same_har_with_one_answer_altered_is_caught_at_its_entry(chromium_har: Path, tmp_path: Path) -> None:
    document = json.loads(chromium_har.read_text())
    entries = document["log"]["entries"]
    index = next(i for i, e in enumerate(entries) if "/authenticate" in e["request"]["url"])
    content = entries[index]["response"]["content"]
    answer = json.loads(content["text"])
    assert answer["status"] == "processing"
    content["text"] = json.dumps({**answer, "status": "succeeded"})
    altered = tmp_path / "altered.har"
    altered.write_text(json.dumps(document, indent=2))
    text = altered.read_text().split("\n")
    url = next(n for n, t in enumerate(text, start=1) if '"url"' in t and "/authenticate" in t)
    line = max(n for n, t in enumerate(text[:url], start=1) if '"request"' in t)  # the entry's request opens here
    done = cli("check-trace", str(altered))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{altered}:{line}: check failed: response_body" in done.stdout, done.stdout


def test_a_har_written_from_httpx_event_hooks_checks_clean(sandbox: EmbeddedServer, tmp_path: Path) -> None:
    recorder = HarRecorder()
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers, event_hooks=recorder.hooks()) as client:
        made = client.post("/checkout-sessions", json={"amount": 1234, "currency": "usd",
                                                       "success_url": "https://shop.example/ok",
                                                       "cancel_url": "https://shop.example/back"}).json()
        client.post(f"/test-helpers/checkout-sessions/{made['id']}/pay", json={"card_number": "4242424242424242"})
        client.get(f"/checkout-sessions/{made['id']}")
        client.post(f"/checkout-sessions/{made['id']}/expire")  # 409: it is complete
        client.get("/events", params={"limit": 100})
    path = tmp_path / "httpx.har"
    recorder.save(path)
    assert not list(har_schema().iter_errors(json.loads(path.read_text())))
    assert "Bearer" in path.read_text()  # kept as an export keeps it; check-trace reads it in memory only
    done = cli("check-trace", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 exchanges" in done.stdout


def test_a_file_that_breaks_the_har_format_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.har"
    document: dict[str, Any] = {"log": {"version": "1.2", "creator": {"name": "x", "version": "1"},
                                        "entries": [{"startedDateTime": "not a date"}]}}
    path.write_text(json.dumps(document))
    done = cli("check-trace", str(path))
    assert done.returncode == 2
    assert f"{path}: not a valid HAR 1.2 file" in done.stderr
    assert "Traceback" not in done.stderr
