"""docs/contract-coverage.md (issue 15 point 5): every promise of the contract, listed as data in
spec/promises.yaml, has a check and a step that verify it; the table is generated and current,
and a promise without a check is a gap that fails this test."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cxpay_conformance.cli import main_group
from cxpay_conformance.errors import UsageError
from cxpay_conformance.suite import promises as coverage

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / coverage.DEFAULT_PATH
COUNTS = ROOT / coverage.DEFAULT_COUNTS


def test_the_committed_table_is_current() -> None:
    promises = coverage.load_promises()
    run = coverage.ReferenceRun.read(COUNTS)
    assert not coverage.is_stale(promises, run, TABLE), "run `cxpay-conformance contract-coverage`"


def test_every_promise_has_a_check() -> None:
    gaps = coverage.load_promises().gaps
    assert not gaps, f"promises no check verifies: {[p.id for p in gaps]}"


def test_every_verifier_ran_in_the_reference_run() -> None:
    idle = coverage.unexercised(coverage.load_promises(), coverage.ReferenceRun.read(COUNTS))
    assert not idle, [f"{p.id}: {v.check} at {v.step}" for p, v in idle]


def test_the_promises_cover_every_area_the_issue_names() -> None:
    promises = coverage.load_promises()
    areas = {p.area for p in promises.promises}
    assert {"auth", "errors", "operations", "idempotency", "webhooks", "event_list", "clock", "tenants"} <= areas


def test_a_promise_without_a_check_is_a_gap_in_the_table(tmp_path: Path) -> None:
    source = tmp_path / "promises.yaml"
    source.write_text("areas: {auth: Authentication}\npromises:\n"
                      "  - {id: auth.a, area: auth, promise: checked,\n"
                      "     verified_by: [{check: auth, step: 'merchant: auth'}]}\n"
                      "  - {id: auth.b, area: auth, promise: nobody checks this}\n", encoding="utf-8")
    promises = coverage.load_promises(source)
    assert [p.id for p in promises.gaps] == ["auth.b"]
    text = coverage.render(promises, coverage.ReferenceRun({"auth": 3}, {"merchant: auth": 2}))
    assert "| **auth.b**: nobody checks this | **GAP: no check** |" in text
    assert "| **auth.a**: checked | `auth` | `merchant: auth` | 3 | 2 |" in text
    assert "2 promises, 1 gap," in text and "## Gaps" in text


def test_a_check_the_suite_does_not_have_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "promises.yaml"
    source.write_text("areas: {auth: A}\npromises:\n"
                      "  - {id: x, area: auth, promise: p, verified_by: [{check: no_such_check}]}\n", encoding="utf-8")
    with pytest.raises(UsageError, match="'no_such_check' is not a check of the suite"):
        coverage.load_promises(source)


def test_the_command_checks_and_writes(tmp_path: Path) -> None:
    runner = CliRunner()
    checked = runner.invoke(main_group, ["contract-coverage", "--check", "--out", str(TABLE), "--counts", str(COUNTS)])
    assert checked.exit_code == 0, checked.output
    out = tmp_path / "coverage.md"
    stale = runner.invoke(main_group, ["contract-coverage", "--check", "--out", str(out), "--counts", str(COUNTS)])
    assert stale.exit_code == 1 and "is stale" in stale.output
    wrote = runner.invoke(main_group, ["contract-coverage", "--out", str(out), "--counts", str(COUNTS)])
    assert wrote.exit_code == 0 and out.read_text(encoding="utf-8") == TABLE.read_text(encoding="utf-8")
