"""check-trace on a trace of a conformant run: clean as recorded; caught, at the altered line,
with any one answer status, answer field, object status or webhook type altered (the mutations
are drawn systematically from the recorded lines, many of each kind)."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cxpay_conformance.spec import load_spec
from cxpay_conformance.trace import TraceChecker
from cxpay_conformance.trace.records import Record, Seen
from cxpay_conformance.trace.sources import read_file
from tests.trace.conftest import cli

#: Mutations of each kind checked (drawn with a fixed seed from every line they apply to).
PER_KIND = 25

SPEC = load_spec()
Mutation = tuple[str, int, list[str]]  # what was altered, the line (1-based), the altered trace's lines


@pytest.fixture(scope="module")
def checker() -> TraceChecker:
    return TraceChecker.load()


def test_the_trace_of_a_conformant_run_checks_clean(recorded_trace: Path) -> None:
    records = [json.loads(line) for line in _lines(recorded_trace)]
    kinds = [r["kind"] for r in records]
    assert kinds.count("webhook") > 20, "the recorded run should have received webhooks"
    assert any("race-" in (r.get("request", {}).get("headers", {}).get("Idempotency-Key") or "") for r in records), \
        "the recorded run should have a concurrent phase"
    done = cli("check-trace", str(recorded_trace))
    assert done.returncode == 0, done.stdout + done.stderr
    assert ": clean" in done.stdout
    assert f"{kinds.count('exchange')} exchanges, {kinds.count('webhook')} events" in done.stdout


def test_a_trace_cut_short_of_its_own_start_is_a_violation_not_a_partial_match(recorded_trace: Path,
                                                                               checker: TraceChecker,
                                                                               tmp_path: Path) -> None:
    """A trace that starts in the middle names objects no line made: it stops matching, and says so."""
    lines = _lines(recorded_trace)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join([lines[0], *lines[len(lines) // 2:]]) + "\n")
    result = checker.check_file(cut)
    assert result.violation is not None


def _mutations(lines: list[str]) -> Iterator[Mutation]:
    """Every single-field alteration of the kinds the issue names, PER_KIND of each (seeded)."""
    records = [json.loads(line) for line in lines]
    kinds: dict[str, list[Mutation]] = {}

    def add(kind: str, index: int, change: Callable[[dict[str, Any]], None]) -> None:
        altered = copy.deepcopy(records[index])
        change(altered)
        new = list(lines)
        new[index] = json.dumps(altered)
        kinds.setdefault(kind, []).append((kind, index + 1, new))

    for index, record in enumerate(records):
        if record["kind"] == "exchange":
            status, body = record["response"]["status"], record["response"]["body"]
            other = 409 if status == 200 else 200

            def set_status(r: dict[str, Any], to: int = other) -> None:
                r["response"]["status"] = to

            add("answer status", index, set_status)
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                def set_code(r: dict[str, Any]) -> None:
                    r["response"]["body"]["error"]["code"] += "_altered"

                add("error code", index, set_code)
            if isinstance(body, dict) and body.get("object") in SPEC.objects and "status" in body:
                add("object status", index, _other_status(body, lambda r: r["response"]["body"]))
            if isinstance(body, dict) and isinstance(body.get("amount"), int):
                def set_amount(r: dict[str, Any]) -> None:
                    r["response"]["body"]["amount"] += 1

                add("answer field", index, set_amount)
        elif record["kind"] == "webhook":
            types = sorted(set(SPEC.webhook_types()) - {record["event"]["type"]})

            def set_type(r: dict[str, Any], to: str = types[index % len(types)]) -> None:
                r["event"]["type"] = to

            add("webhook type", index, set_type)
            obj = record["event"]["data"]["object"]
            if obj.get("object") in SPEC.objects and "status" in obj:
                add("webhook object status", index, _other_status(obj, lambda r: r["event"]["data"]["object"]))
    rng = random.Random(14)
    for kind in sorted(kinds):
        found = kinds[kind]
        yield from rng.sample(found, min(PER_KIND, len(found)))


def _other_status(obj: dict[str, Any],
                  where: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], None]:
    states = sorted(set(SPEC.objects[obj["object"]].states) - {obj["status"]})

    def change(r: dict[str, Any]) -> None:
        where(r)["status"] = states[len(obj["id"]) % len(states)]

    return change


def test_each_altered_line_is_caught_at_that_line(recorded_trace: Path, checker: TraceChecker,
                                                  tmp_path: Path) -> None:
    lines = _lines(recorded_trace)
    mutations = list(_mutations(lines))
    kinds = {kind for kind, _, _ in mutations}
    assert kinds == {"answer status", "error code", "object status", "answer field", "webhook type",
                     "webhook object status"}
    assert len(mutations) >= 5 * PER_KIND
    recorded = read_file(recorded_trace)
    assert checker.check_records("recorded", recorded).ok
    index_of = {record.line: index for index, record in enumerate(recorded)}
    groups = _overlapping(recorded)
    missed, elsewhere = [], []
    for kind, line, altered in mutations:
        name = f"{kind}@{line}"
        # The altered line is read as check-trace reads it (schema and all); the others as recorded.
        one = tmp_path / "altered.jsonl"
        one.write_text(altered[0] + "\n" + altered[line - 1] + "\n", encoding="utf-8")
        (record,) = read_file(one)
        records = list(recorded)
        records[index_of[line]] = dataclasses.replace(record, line=line)
        result = checker.check_records(name, records)
        if result.violation is None:
            missed.append(name)
        elif result.violation.line != line and result.violation.line not in groups.get(line, ()):
            elsewhere.append(f"{name} reported at line {result.violation.line}")
    assert not missed, f"altered lines that checked clean: {missed}"
    assert not elsewhere, f"altered lines reported at another line: {elsewhere}"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").rstrip("\n").split("\n")  # not splitlines(): U+2028 may be in a string


def _overlapping(records: list[Record]) -> dict[int, set[int]]:
    """Line -> the lines of the requests that overlapped it in time (served in an order the trace
    cannot show: a violation among them may be reported at another of them)."""
    exchanges = [r for r in records if isinstance(r, Seen)]
    found: dict[int, set[int]] = {}
    for a in exchanges:
        for b in exchanges:
            if a is not b and a.started < b.ended and b.started < a.ended:
                found.setdefault(a.line, set()).add(b.line)
    return found


def test_the_sandbox_s_own_trace_of_a_run_checks_clean(tmp_path: Path) -> None:
    """serve --record's trace (the server writes it, naming merchants by id) of the suite's run."""
    from cxpay_conformance.server import ServerConfig, run_in_thread
    from cxpay_conformance.server.config import DEFAULT_API_KEYS

    path = tmp_path / "sandbox.trace.jsonl"
    config = ServerConfig(log_requests=False, api_keys=dict(DEFAULT_API_KEYS), trace_path=str(path))
    with run_in_thread(config) as running:
        first, second = running.api_keys[:2]
        ran = cli("run", "--base-url", running.base_url, "--api-key", first, "--second-api-key", second,
                  "--profile", "quick", "--max-examples", "5", "--race-examples", "2", "--seed", "4",
                  "--report-dir", str(tmp_path / "report"), cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout[-2000:]
    header = json.loads(path.read_text(encoding="utf-8").split("\n", 1)[0])
    assert header["source"] == "serve"
    done = cli("check-trace", str(path))
    assert done.returncode == 0, done.stdout[-3000:]
    assert ": clean" in done.stdout


def test_a_long_file_shows_progress_in_a_log(recorded_trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from click.testing import CliRunner

    from cxpay_conformance.cli import _progress, main_group

    # The module, not the command that cxpay_conformance.cli exports under the same name.
    monkeypatch.setattr(importlib.import_module("cxpay_conformance.cli.check_trace"), "LONG_FILE", 100)
    monkeypatch.setattr(_progress, "LOG_INTERVAL", 0.0)
    result = CliRunner().invoke(main_group, ["check-trace", str(recorded_trace)])
    assert result.exit_code == 0, result.output
    assert "records checked" in result.output and f"progress: {recorded_trace}: 500/" in result.output
