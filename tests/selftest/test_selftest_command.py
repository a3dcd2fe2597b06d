"""``cxpay-conformance selftest``: the table, the JSON, the exit codes (0 all caught, 1 a fault
missed), and runs in worker processes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cxpay_conformance.cli import main_group
from cxpay_conformance.selftest import SelftestOptions, run_selftest

QUICK = ["--profile", "quick", "--seed", "1", "--shrink-budget", "2", "--jobs", "1", "--no-clean-run"]


def test_a_caught_fault_passes_with_a_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "selftest.json"
    result = CliRunner().invoke(main_group, ["selftest", *QUICK, "--fault", "session_missing_created",
                                             "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "session_missing_created" in result.output and "openapi" in result.output
    assert "1/1 faults caught" in result.output and "SELFTEST PASSED" in result.output
    report = json.loads(out.read_text())
    assert report["ok"] is True and report["missed"] == []
    (fault,) = report["faults"]
    assert fault["fault"] == "session_missing_created" and fault["caught"] and fault["check"] == "openapi"
    assert fault["story_steps"] >= 1 and fault["first_failure_seconds"] is not None


def test_a_missed_fault_fails_and_is_named() -> None:
    # The quick profile has no concurrent phase: it sends one request at a time, and a race is
    # invisible to it (the ci profile catches it: test_faults_are_caught.py).
    result = CliRunner().invoke(main_group, ["selftest", *QUICK, "--time-budget", "1", "--fault", "no_lock_in_pay"])
    assert result.exit_code == 1, result.output
    assert "MISSED" in result.output and "no_lock_in_pay" in result.output
    assert "SELFTEST FAILED" in result.output


def test_faults_run_in_worker_processes() -> None:
    options = SelftestOptions(faults=("amount_as_string", "conflict_as_bad_request"), profile="quick", seed=1,
                              time_budget=20.0, shrink_budget=2, jobs=2, clean_run=False)
    heard: list[str] = []
    result = run_selftest(options, on_outcome=lambda outcome: heard.append(outcome.fault))
    assert sorted(heard) == ["amount_as_string", "conflict_as_bad_request"]
    assert [o.fault for o in result.outcomes] == ["amount_as_string", "conflict_as_bad_request"]
    assert result.ok and all(o.check == "openapi" for o in result.outcomes)
