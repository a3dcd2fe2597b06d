"""What a run leaves behind: the failure as a story, a reproduction script, JSON, JUnit XML and
the HTML report (rendered by :mod:`.html_report`).

All of it is made from a :class:`~cxpay_conformance.suite.runner.SuiteResult`; nothing here
talks to the implementation. API keys never appear in any file: the reproduction script
reads them from environment variables.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.checks import CHECKS
from cxpay_conformance.suite.config import SuiteConfig
from cxpay_conformance.suite.html_report import render_html
from cxpay_conformance.suite.race_repro import race_repro_script
from cxpay_conformance.suite.race_story import concurrent, prefix_steps, race_json, race_table
from cxpay_conformance.suite.receiver import MAIN, REFUSALS
from cxpay_conformance.suite.repro_text import find, own_key, said, templated
from cxpay_conformance.suite.runner import SuiteResult

ID_PATTERN = re.compile(r"\b[a-z]{2,4}_[A-Za-z0-9_-]{8,}\b")


def story(result: SuiteResult) -> str:
    """The shrunk failing sequence in words: actor, event, expected vs observed, per step.

    A failure in a concurrent history tells the prefix's steps so, then draws the requests sent at
    once side by side (:func:`~.race_story.race_table`), then why no order explains them.
    """
    if result.failure is None:
        return "The implementation conformed: no failing story."
    failure = result.failure
    racing = concurrent(result)
    # A concurrent failure's message is the checker's whole explanation: it closes the story.
    said_first = str(failure).splitlines()[0] if racing else str(failure)
    lines = [f"Check failed: {failure.check}", f"  {said_first}", "", "The shortest story that shows it:"]
    for step in prefix_steps(result) if racing else result.story:
        lines.append(f"  {step.number:>2}. {step.story}")
        if step.expected:
            lines.append(f"      expected: {step.expected}")
        if step.observed:
            lines.append(f"      observed: {step.observed}")
    if racing:
        lines += ["", f"Then {len(result.branches)} requests sent at once, one column per branch, in the order they "
                  "were sent (ms since the branches were released):", *(f"  {line}" for line in race_table(result))]
        title = "Why no order explains them:" if failure.check == "linearizability" else "What failed:"
        lines += ["", title, *(f"  {line}" for line in str(failure).splitlines()[1:])]
    if failure.request:
        lines += ["", f"Request:  {failure.request}"]
    if failure.response:
        lines += [f"Response: {failure.response[:600]}"]
    if result.webhook_timeline:
        lines += ["", "Webhooks received for these objects (arrival order):"]
        start = result.webhook_timeline[0].received_at
        for delivery in result.webhook_timeline:
            verdict = "ok" if delivery.signature_ok else f"REFUSED: {delivery.problem}"
            on_purpose = f", refused on purpose: {REFUSALS[delivery.refused]}" if delivery.refused else ""
            where = "" if delivery.endpoint == MAIN else f" at {delivery.endpoint}"
            lines.append(f"  +{delivery.received_at - start:6.3f}s  {delivery.type}  {delivery.object_id}"
                         f"  ({delivery.event_id}{where}, signature {verdict}{on_purpose})")
    lines += ["", f"Replay: {replay_command(result)}"]
    if result.flaky:
        lines.append("Note: the failure did not reproduce on every run (flaky): suspect a race or timing.")
    if racing:
        lines.append("repro.py races the branches again from threads released by a barrier, a few times: a race "
                     "reproduces only sometimes.")
    return "\n".join(lines)


def replay_command(result: SuiteResult) -> str:
    """The command that runs the same examples against the same implementation with the same
    options again; the keys as environment variables to fill in (``...``), never their values.

    >>> replay_command(result)
    'CXPAY_API_KEY=... CXPAY_SECOND_API_KEY=... cxpay-conformance run --base-url https://sandbox.example --seed 7 ...'
    """
    config, defaults = result.config, SuiteConfig()
    words: list[str] = []
    if config.base_url and not config.embedded:
        words += ["CXPAY_API_KEY=...", *(["CXPAY_SECOND_API_KEY=..."] if config.second_api_key else [])]
        words += ["cxpay-conformance", "run", "--base-url", shlex.quote(config.base_url)]
    else:
        words += ["cxpay-conformance", "run"]
    words.append(result.replay)
    # What changes the examples drawn (the checks choose the rules) or the verdict on them.
    options: list[tuple[str, object, object]] = [
        ("--spec", config.spec_path, None),
        ("--checks", ",".join(config.checks), ""),
        ("--skip-checks", ",".join(config.skip_checks), ""),
        ("--webhook-host", config.webhook_host, None),
        ("--webhook-port", config.webhook_port, defaults.webhook_port),
        ("--webhook-timeout", config.webhook_timeout, defaults.webhook_timeout),
        ("--settle-timeout", config.settle_timeout, defaults.settle_timeout),
        ("--shrink-budget", f"{config.shrink_budget:g}" if config.shrink_budget else None, None),
    ]
    if "--phases" not in result.replay:  # a failure of the concurrent phase names its own
        options += [("--phases", ",".join(config.phases), ",".join(defaults.phases)),
                    ("--race-examples", config.race_examples, None),
                    ("--race-repeats", config.race_repeats, defaults.race_repeats)]
    words += [f"{option} {shlex.quote(str(value))}" for option, value, default in options if value != default]
    return " ".join(words)


def shrinking_json(result: SuiteResult) -> dict[str, Any] | None:
    """What shrinking did to a failure: the failing example's steps when found and after, the
    seconds it took, the ``--shrink-budget`` and whether shrinking was stopped by it."""
    first = result.first_failure
    if result.failure is None or first is None or result.shrink_seconds is None:
        return None
    budget = result.config.shrink_budget
    return {"steps_before": first.steps, "steps_after": len(result.story), "seconds": round(result.shrink_seconds, 3),
            "budget_seconds": budget, "stopped_by_budget": budget is not None and result.shrink_seconds >= budget}


def shrinking_summary(result: SuiteResult) -> str | None:
    """One sentence on what shrinking did in the time it had, for the front ends (None: nothing shrunk).

    >>> shrinking_summary(result)
    'Shrinking: the failing example went from 23 steps to 5 in 5.1 s, stopped by --shrink-budget 5: ...'
    """
    shrunk = shrinking_json(result)
    if shrunk is None:
        return None
    words = (f"Shrinking: the failing example went from {shrunk['steps_before']} steps to {shrunk['steps_after']} "
             f"in {shrunk['seconds']:.1f} s")
    budget = shrunk["budget_seconds"]
    if shrunk["stopped_by_budget"]:
        return (words + f", stopped by --shrink-budget {budget:g}: a larger budget may shorten it further; "
                f"the replay command runs it again with the same budget: {replay_command(result)}")
    return words + (f", within --shrink-budget {budget:g}" if budget else "") + "."


def repro_script(result: SuiteResult, exchanges: list[Exchange], ids: dict[str, str]) -> str:
    """A Python script (httpx) that sends the failing example's requests again, in order, and
    compares each answer with what the suite expected of it (``result.predictions``): the
    status, and the error code or the object's status where the suite predicted them.

    A failure in a concurrent history gets :func:`~.race_repro.race_repro_script` instead: the
    prefix, then the branches from threads released by a barrier, a few times.

    It exits 1 when an answer differs (the failure reproduces), 0 when none does. When the
    failure was not in what it compares (a body's shape, a webhook), and no answer differs,
    it cannot tell: it says so and exits 2. Ids the implementation made are bound from the
    answers they first appeared in, and the suite's Idempotency-Keys are made the script's own,
    so the script works on a fresh run; keys come from ``CXPAY_API_KEY`` /
    ``CXPAY_SECOND_API_KEY``.
    """
    failure = result.failure
    if concurrent(result):
        return race_repro_script(result, exchanges, ids)
    predictions = {i: p for i, p in result.predictions.items() if i < len(exchanges)}
    # Whether the failure showed in what the script compares: only then is "no answer differs"
    # a verdict.
    judged = any(p.misses(exchanges[i], exchanges) for i, p in predictions.items())
    base_url = result.config.base_url or "http://127.0.0.1:8000"
    headline = str(failure).splitlines()[0][:300] if failure else ""
    lines = [
        "#!/usr/bin/env python3",
        '"""Reproduces a cxpay-conformance failure: sends the failing example\'s requests again, in order,',
        "and compares each answer with what the suite expected of it.",
        "",
        "Run: CXPAY_API_KEY=... CXPAY_SECOND_API_KEY=... CXPAY_BASE_URL=URL python repro.py",
        "Exit code: 1 the failure reproduces (an answer differs from what the suite expected),",
        "0 it does not" + ("." if judged else ", 2 cannot tell (the failure is in what this script does not "
                                                "compare)."),
        "",
        f"Failure: [{failure.check if failure else '-'}] {headline}",
        '"""',
        "import json",
        "import os",
        "import sys",
        "import uuid",
        "",
        "import httpx",
        "",
        f'BASE_URL = os.environ.get("CXPAY_BASE_URL", {base_url!r})',
        'KEYS = {"default": os.environ["CXPAY_API_KEY"],',
        '        "second merchant": os.environ.get("CXPAY_SECOND_API_KEY", ""),',
        '        "invalid": "sk_test_not_a_merchant"}',
        f"CHECK = {failure.check if failure else '-'!r}",
        f"JUDGED = {judged!r}  # the failure showed in the statuses and codes compared here",
        "ids = {}",
        "answers = {}  # number -> the answer this run got",
        "differ = []",
        "# The suite's Idempotency-Keys, made this run's own (at the same length): sent as they were,",
        "# the implementation would answer with what it remembered from the suite's run.",
        "RUN = uuid.uuid4().hex",
        "client = httpx.Client(base_url=BASE_URL, timeout=10)",
        "",
        "",
        "def summary(status, answer):",
        "    error = answer.get(\"error\") if isinstance(answer, dict) else None",
        "    detail = error.get(\"code\") if isinstance(error, dict) else (",
        "        answer.get(\"status\") if isinstance(answer, dict) else None)",
        "    return f\"{status} {detail}\" if isinstance(detail, str) else str(status)",
        "",
        "",
        "def send(number, method, path, body=None, key=\"default\", idempotency_key=None, expect=None, same_as=None):",
        "    headers = {}",
        "    if key != \"none\":",
        "        headers[\"Authorization\"] = f\"Bearer {KEYS[key]}\"",
        "    if idempotency_key is not None:",
        "        headers[\"Idempotency-Key\"] = idempotency_key",
        "    response = client.request(method, path, json=body, headers=headers)",
        "    try:",
        "        answer = response.json()",
        "    except ValueError:",
        "        answer = None",
        "    answers[number] = answer",
        "    got = summary(response.status_code, answer)",
        "    verdict = \"\"",
        "    if expect is not None:",
        "        status, code, object_status = expect",
        "        wanted = \" \".join(str(part) for part in expect if part is not None)",
        "        error = answer.get(\"error\") if isinstance(answer, dict) else None",
        "        got_code = error.get(\"code\") if isinstance(error, dict) else None",
        "        got_status = answer.get(\"status\") if isinstance(answer, dict) else None",
        "        if (response.status_code != status or (code is not None and got_code != code)",
        "                or (object_status is not None and got_status != object_status)):",
        "            differ.append(f\"{number}. {method} {path}: the suite expected {wanted}, got {got}\")",
        "            verdict = f\"   DIFFERS: the suite expected {wanted}\"",
        "        elif same_as is not None and answer != answers.get(same_as):",
        "            differ.append(f\"{number}. {method} {path}: the suite expected answer {same_as} again, \"",
        "                          \"got another body\")",
        "            verdict = f\"   DIFFERS: the suite expected answer {same_as} again, body and all\"",
        "        else:",
        "            verdict = f\"   (as expected: {wanted})\"",
        "    print(f\"{number:>3}. {method} {path} -> {got} {verdict}\")",
        "    print(f\"       {response.text[:300]}\")",
        "    return answer",
        "",
        "",
        "def bind(name, answer, *path):",
        "    value = answer",
        "    try:",
        "        for step in path:",
        "            value = value[step]",
        "    except (KeyError, IndexError, TypeError):",
        "        differ.append(f\"the answer has no id for {name} where the suite's run had it, so the requests \"",
        "                      \"after it cannot be sent as the suite sent them\")",
        "        finish()",
        "    ids[name] = value",
        "",
        "",
        "def finish():",
        "    print()",
        "    if differ:",
        "        print(f\"REPRODUCED [{CHECK}]: {len(differ)} answer(s) differ from what the suite expected:\")",
        "        for line in differ:",
        "            print(f\"  {line}\")",
        "        sys.exit(1)",
        "    if JUDGED:",
        "        print(f\"Not reproduced [{CHECK}]: every answer was what the suite expected.\")",
        "        sys.exit(0)",
        "    print(f\"Cannot tell [{CHECK}]: every status and code was what the suite expected, but the failure \"",
        "          \"is in what this script does not compare (a body's fields or shape, a webhook): compare \"",
        "          \"the answers above with the story.\")",
        "    sys.exit(2)",
        "",
        "",
    ]
    names = {real: model for model, real in ids.items()}
    bound: set[str] = set()
    for number, exchange in enumerate(exchanges, 1):
        path = templated(exchange.path, names)
        body = templated(json.dumps(exchange.body), names) if exchange.body is not None else None
        key = exchange.headers.get("Idempotency-Key")
        args = [str(number), repr(exchange.method), path]
        if body is not None:
            args.append(f"json.loads({body})")
        if exchange.key_label != "default":
            args.append(f"key={exchange.key_label!r}")
        if key is not None:
            args.append(f"idempotency_key={own_key(key)}")
        prediction = predictions.get(number - 1)
        if prediction is not None:
            args.append(f"expect={(prediction.status, prediction.code, prediction.object_status)!r}")
            if prediction.same_as is not None:
                args.append(f"same_as={prediction.same_as + 1}")
        expected = f"the suite expected {said(prediction)}; " if prediction is not None else ""
        lines.append(f"# {number}: {expected}the implementation answered {said(exchange)}")
        lines.append(f"answer = send({', '.join(args)})")
        for real, model in names.items():
            if real in bound:
                continue
            where = find(exchange.answer, real)
            if where is not None:
                lines.append(f"bind({model!r}, answer{''.join(', ' + repr(x) for x in where)})")
                bound.add(real)
    lines.append("finish()")
    return "\n".join(lines) + "\n"


def as_json(result: SuiteResult) -> dict[str, Any]:
    """The whole result as JSON-ready data."""
    failure = result.failure
    return {
        "conformant": result.conformant,
        "seed": result.seed,
        "replay": replay_command(result),
        "examples": result.examples,
        "steps": result.steps,
        "requests": result.requests,
        "races": result.races,
        "duration_seconds": round(result.duration, 3),
        "checks_run": result.checks_run,
        "notes": list(result.notes),
        # Which share of the run's batches ran, in how many workers, and the batches run (docs/scaling.md).
        "share": str(result.config.share),
        "workers": result.workers,
        "batches": [{"phase": b.phase, "index": b.index, "seed": b.seed, "size": b.size,
                     "examples": b.examples, "steps": b.steps} for b in result.batches],
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
            # The requests sent at once of a concurrent failure ([] for a sequential one).
            "branches": race_json(result) if concurrent(result) else [],
            "shrinking": shrinking_json(result),
        },
        "coverage": [
            {"object": c.object, "states": [c.states_reached, c.states_total],
             "transitions": [c.transitions_hit, c.transitions_total],
             "unreached_states": list(c.unreached_states),
             "uncovered_transitions": list(c.uncovered_transitions)}
            for c in result.coverage.per_object()
        ],
        "rejections_tested": list(result.coverage.rejection_pairs()),
        "edges": result.coverage.per_edge(),
    }


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def junit_xml(result: SuiteResult) -> str:
    """JUnit XML: one test case per check, failed, passed or skipped, for CI dashboards."""
    share = result.config.share
    suite = ElementTree.Element("testsuite", {
        # A shard's suite says which (the CI matrix's reports are merged into one: docs/scaling.md).
        "name": "cxpay-conformance" if share.whole else f"cxpay-conformance shard {share}",
        "tests": str(len(CHECKS)),
        "failures": "0" if result.conformant else "1",
        "skipped": str(sum(1 for name in CHECKS if not result.checks_run.get(name))),
        "time": f"{result.duration:.3f}",
    })
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (("seed", str(result.seed)), ("replay", replay_command(result)),
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


def html(result: SuiteResult) -> str:
    """The HTML report (:mod:`.html_report`): one self-contained page, with report.json inline.

    >>> Path("report.html").write_text(html(result), encoding="utf-8")
    """
    return render_html(result, as_json(result))


def write_reports(result: SuiteResult, directory: str | Path) -> dict[str, Path]:
    """Write the HTML report (index.html), story, reproduction script, JSON and coverage diagrams
    into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    data = as_json(result)
    (out / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    written["json"] = out / "report.json"
    (out / "index.html").write_text(render_html(result, data), encoding="utf-8")
    written["html"] = out / "index.html"
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
    paths = render_coverage(result.spec, dict(result.coverage.transitions), out,
                            edge_hits=dict(result.coverage.edges))
    return {"coverage": out} if paths else {}
