"""``--shrink-budget``: shrinking a failure stops once the budget is spent, and the report says
how far it got (the failing example's steps before and after) with the command that replays it.

A budget of a millisecond ends shrinking after its first attempt on any machine, so these tests
do not depend on how fast the machine is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cxpay_conformance.server import ServerConfig
from cxpay_conformance.server.runner import run_in_thread
from cxpay_conformance.suite import SuiteConfig, SuiteResult, run_suite
from cxpay_conformance.suite.report import replay_command, shrinking_json, shrinking_summary

#: Seed 2 meets this fault of the catalogue at its 7th example (20 examples of 8 steps, no database).
FAULT = "last_payment_error_missing"
WORKLOAD = {"seed": 2, "max_examples": 20, "max_steps": 8, "database": None, "settle_timeout": 0.0,
            "race_examples": 0}


def _run(tmp_path: Path, shrink_budget: float | None) -> SuiteResult:
    with run_in_thread(ServerConfig(log_requests=False, faults=frozenset({FAULT}))) as running:
        config = SuiteConfig(base_url=running.base_url, api_key=running.api_keys[0],
                             second_api_key=running.api_keys[1], shrink_budget=shrink_budget,
                             report_dir=str(tmp_path / "report"), **WORKLOAD)
        return run_suite(config)


def test_a_budget_stops_shrinking_and_the_result_says_how_far_it_got(tmp_path: Path) -> None:
    bounded, unbounded = _run(tmp_path, 0.001), _run(tmp_path, None)
    assert bounded.failure is not None and unbounded.failure is not None
    assert bounded.first_failure is not None and unbounded.first_failure is not None
    assert bounded.first_failure.examples == unbounded.first_failure.examples  # the same failure found
    cut, full = shrinking_json(bounded), shrinking_json(unbounded)
    assert cut is not None and full is not None
    assert cut["stopped_by_budget"] is True and cut["budget_seconds"] == 0.001
    assert full["stopped_by_budget"] is False and full["budget_seconds"] is None
    assert cut["steps_before"] == full["steps_before"] > full["steps_after"]
    # Stopped after its first attempt, the story is (nearly) as found: longer than the shrunk one.
    assert cut["steps_after"] > full["steps_after"]
    assert cut["steps_after"] == len(bounded.story)
    assert "--shrink-budget 0.001" in replay_command(bounded)
    summary = shrinking_summary(bounded)
    assert summary is not None
    assert f"from {cut['steps_before']} steps to {cut['steps_after']}" in summary
    assert "stopped by --shrink-budget 0.001" in summary and replay_command(bounded) in summary


def test_the_command_line_reports_the_budgeted_shrink_and_the_replay(tmp_path: Path) -> None:
    with run_in_thread(ServerConfig(log_requests=False, faults=frozenset({FAULT}))) as running:
        out = tmp_path / "result.json"
        done = subprocess.run(
            [sys.executable, "-c", "from cxpay_conformance.cli import main; main()", "run",
             "--base-url", running.base_url, "--api-key", running.api_keys[0],
             "--second-api-key", running.api_keys[1], "--seed", "2", "--max-examples", "20", "--max-steps", "8",
             "--no-database", "--settle-timeout", "0", "--race-examples", "0", "--shrink-budget", "0.001",
             "--report-dir", str(tmp_path / "report"), "--json", str(out)],
            capture_output=True, text=True, timeout=600, env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    shrunk = json.loads(out.read_text())["failure"]["shrinking"]
    assert shrunk["stopped_by_budget"] is True and shrunk["steps_after"] >= 1
    assert "stopped by --shrink-budget 0.001" in done.stdout
    assert "--shrink-budget 0.001" in json.loads(out.read_text())["replay"]


def test_a_budget_of_nothing_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "from cxpay_conformance.cli import main; main()", "run",
                           "--shrink-budget", "0", "--max-examples", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--shrink-budget" in done.stderr and "Traceback" not in done.stderr
