"""What a run leaves behind: the failure as a story, a reproduction script, JSON and JUnit XML.

All of it is made from a :class:`~cxpay_conformance.suite.runner.SuiteResult`; nothing here
talks to the implementation. API keys never appear in any file: the reproduction script
reads them from environment variables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.checks import CHECKS
from cxpay_conformance.suite.runner import SuiteResult

ID_PATTERN = re.compile(r"\b[a-z]{2,4}_[A-Za-z0-9_-]{8,}\b")


def story(result: SuiteResult) -> str:
    """The shrunk failing sequence in words: actor, event, expected vs observed, per step."""
    if result.failure is None:
        return "The implementation conformed: no failing story."
    failure = result.failure
    lines = [f"Check failed: {failure.check}", f"  {failure}", "", "The shortest story that shows it:"]
    for step in result.story:
        lines.append(f"  {step.number:>2}. {step.story}")
        if step.expected:
            lines.append(f"      expected: {step.expected}")
        if step.observed:
            lines.append(f"      observed: {step.observed}")
    if failure.request:
        lines += ["", f"Request:  {failure.request}"]
    if failure.response:
        lines += [f"Response: {failure.response[:600]}"]
    if result.webhook_timeline:
        lines += ["", "Webhooks received for these objects (arrival order):"]
        start = result.webhook_timeline[0].received_at
        for delivery in result.webhook_timeline:
            verdict = "ok" if delivery.signature_ok else f"REFUSED: {delivery.problem}"
            lines.append(f"  +{delivery.received_at - start:6.3f}s  {delivery.type}  {delivery.object_id}"
                         f"  ({delivery.event_id}, signature {verdict})")
    lines += ["", f"Replay: cxpay-conformance run {result.replay}" + _target_args(result)]
    if result.flaky:
        lines.append("Note: the failure did not reproduce on every run (flaky): suspect a race or timing.")
    return "\n".join(lines)


def _target_args(result: SuiteResult) -> str:
    if result.config.base_url and not result.config.embedded:
        return f" --base-url {result.config.base_url} --api-key $CXPAY_API_KEY"
    return ""


def repro_script(result: SuiteResult, exchanges: list[Exchange], ids: dict[str, str]) -> str:
    """A Python script (httpx) that sends the failing example's requests again, in order.

    Ids the implementation made are bound from the answers they first appeared in, so the
    script works on a fresh run; keys come from ``CXPAY_API_KEY`` / ``CXPAY_SECOND_API_KEY``.
    """
    base_url = result.config.base_url or "http://127.0.0.1:8000"
    lines = [
        "#!/usr/bin/env python3",
        '"""Reproduces a cxpay-conformance failure. Run: CXPAY_API_KEY=sk_test_... python repro.py',
        "",
        f"Failure: [{result.failure.check if result.failure else '-'}] "
        f"{str(result.failure or '').splitlines()[0][:300] if result.failure else ''}",
        '"""',
        "import json",
        "import os",
        "import uuid",
        "",
        "import httpx",
        "",
        f'BASE_URL = os.environ.get("CXPAY_BASE_URL", {base_url!r})',
        'KEYS = {"default": os.environ["CXPAY_API_KEY"],',
        '        "second merchant": os.environ.get("CXPAY_SECOND_API_KEY", ""),',
        '        "invalid": "sk_test_not_a_merchant"}',
        "ids = {}",
        "# The suite's Idempotency-Keys, made this run's own: sent as they were, the implementation",
        "# would answer with what it remembered from the suite's run instead of doing it again.",
        "RUN = uuid.uuid4().hex[:12]",
        "client = httpx.Client(base_url=BASE_URL, timeout=10)",
        "",
        "",
        "def send(method, path, body=None, key=\"default\", idempotency_key=None):",
        "    headers = {}",
        "    if key != \"none\":",
        "        headers[\"Authorization\"] = f\"Bearer {KEYS[key]}\"",
        "    if idempotency_key:",
        "        headers[\"Idempotency-Key\"] = f\"{idempotency_key}-{RUN}\"",
        "    response = client.request(method, path, json=body, headers=headers)",
        "    print(method, path, '->', response.status_code, response.text[:300])",
        "    return response.json()",
        "",
        "",
    ]
    names = {real: model for model, real in ids.items()}
    bound: set[str] = set()
    for number, exchange in enumerate(exchanges, 1):
        path = _templated(exchange.path, names)
        body = _templated(json.dumps(exchange.body), names) if exchange.body is not None else None
        key = exchange.headers.get("Idempotency-Key")
        args = [repr(exchange.method), path]
        if body is not None:
            args.append(f"json.loads({body})")
        if exchange.key_label != "default":
            args.append(f"key={exchange.key_label!r}")
        if key:
            args.append(f"idempotency_key={key!r}")
        lines.append(f"answer = send({', '.join(args)})  # {number}: expected by the suite -> {exchange.status}")
        for real, model in names.items():
            if real in bound:
                continue
            where = _find(exchange.answer, real)
            if where is not None:
                lines.append(f"ids[{model!r}] = answer{where}")
                bound.add(real)
    return "\n".join(lines) + "\n"


def _templated(text: str, names: dict[str, str]) -> str:
    """``text`` as a Python f-string expression with real ids replaced by ``ids[...]``."""
    literal = repr(text)
    for real, model in names.items():
        literal = literal.replace(real, "{ids[" + repr(model).replace("'", '"') + "]}")
    return "f" + literal if "{ids[" in literal else literal


def _find(value: Any, wanted: str, path: str = "") -> str | None:
    if value == wanted:
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find(item, wanted, f"{path}[{key!r}]")
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find(item, wanted, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def as_json(result: SuiteResult) -> dict[str, Any]:
    """The whole result as JSON-ready data."""
    failure = result.failure
    return {
        "conformant": result.conformant,
        "seed": result.seed,
        "replay": f"cxpay-conformance run {result.replay}",
        "examples": result.examples,
        "steps": result.steps,
        "requests": result.requests,
        "duration_seconds": round(result.duration, 3),
        "checks_run": result.checks_run,
        "failure": None if failure is None else {
            "check": failure.check,
            "message": str(failure),
            "step": failure.step,
            "event": failure.event,
            "expected": _plain(failure.expected),
            "observed": _plain(failure.observed),
            "request": failure.request,
            "response": failure.response,
            "flaky": result.flaky,
            "first_found": None if result.first_failure is None else {
                "check": result.first_failure.check,
                "example": result.first_failure.examples,
                "seconds": round(result.first_failure.seconds, 3),
            },
            "story": [
                {"step": s.number, "actor": s.actor, "event": s.event, "story": s.story,
                 "expected": s.expected, "observed": s.observed}
                for s in result.story
            ],
        },
        "coverage": [
            {"object": c.object, "states": [c.states_reached, c.states_total],
             "transitions": [c.transitions_hit, c.transitions_total],
             "unreached_states": list(c.unreached_states),
             "uncovered_transitions": list(c.uncovered_transitions)}
            for c in result.coverage.per_object()
        ],
        "rejections_tested": list(result.coverage.rejection_pairs()),
    }


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def junit_xml(result: SuiteResult) -> str:
    """JUnit XML: one test case per check, failed, passed or skipped, for CI dashboards."""
    suite = ElementTree.Element("testsuite", {
        "name": "cxpay-conformance",
        "tests": str(len(CHECKS)),
        "failures": "0" if result.conformant else "1",
        "skipped": str(sum(1 for name in CHECKS if not result.checks_run.get(name))),
        "time": f"{result.duration:.3f}",
    })
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (("seed", str(result.seed)), ("replay", f"cxpay-conformance run {result.replay}"),
                        ("examples", str(result.examples)), ("steps", str(result.steps))):
        ElementTree.SubElement(properties, "property", {"name": name, "value": value})
    for name, info in CHECKS.items():
        case = ElementTree.SubElement(suite, "testcase", {"classname": "cxpay_conformance", "name": name})
        if result.failure is not None and result.failure.check == name:
            failure = ElementTree.SubElement(case, "failure", {"message": str(result.failure).splitlines()[0][:500]})
            failure.text = story(result)
        elif not result.checks_run.get(name):
            ElementTree.SubElement(case, "skipped", {"message": f"not run: {info.description}"})
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_reports(result: SuiteResult, directory: str | Path) -> dict[str, Path]:
    """Write story, reproduction script, JSON and coverage diagrams into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    (out / "report.json").write_text(json.dumps(as_json(result), indent=2) + "\n", encoding="utf-8")
    written["json"] = out / "report.json"
    if result.failure is not None:
        (out / "story.txt").write_text(story(result) + "\n", encoding="utf-8")
        (out / "repro.py").write_text(repro_script(result, result.exchanges, result.ids), encoding="utf-8")
        written["story"], written["repro"] = out / "story.txt", out / "repro.py"
    written.update(_coverage_pictures(result, out / "coverage"))
    return written


def _coverage_pictures(result: SuiteResult, out: Path) -> dict[str, Path]:
    try:
        from cxpay_conformance.diagrams import render_coverage
    except ImportError:  # pragma: no cover - the diagrams package ships with the suite
        return {}
    paths = render_coverage(result.spec, dict(result.coverage.transitions), out)
    return {"coverage": out} if paths else {}
