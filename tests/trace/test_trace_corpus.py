"""The corpus (tests/traces/regressions/): traces of failures that ``run`` found in the sandbox
with one fault of the catalogue each (recorded by tests/traces/record.py). check-trace on each
fails at its last line with the check that catches the fault (docs/faults.md); the same run
recorded against the sandbox without the fault checks clean. ``pytest --cxpay-traces DIR`` makes
each trace file a test item (pytester)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.trace.conftest import cli

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "traces" / "regressions"
#: fault -> the check of docs/faults.md that catches it.
CAUGHT_BY = {"pay_answers_stale_intent": "response_body", "mistyped_event_type": "webhooks",
             "expiry_not_enforced": "state"}


def test_the_corpus_holds_the_cases_record_py_makes() -> None:
    assert sorted(p.stem for p in CORPUS.glob("*.jsonl")) == sorted(CAUGHT_BY)


@pytest.mark.parametrize("fault", sorted(CAUGHT_BY))
def test_a_regression_trace_fails_at_the_line_the_fault_shows(fault: str) -> None:
    path = CORPUS / f"{fault}.jsonl"
    last = len(path.read_text(encoding="utf-8").rstrip("\n").split("\n"))
    done = cli("check-trace", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{path}:{last}: check failed: {CAUGHT_BY[fault]}" in done.stdout
    assert "The story of payment" in done.stdout


def test_the_same_run_against_the_fixed_sandbox_checks_clean(tmp_path: Path) -> None:
    """A regression case fails until the implementation is fixed: recorded again without the fault, clean."""
    from cxpay_conformance.embedded import embedded_server
    from tests.traces.record import CASES, RUN

    path = tmp_path / "fixed.jsonl"
    with embedded_server() as server:
        done = cli(*RUN, *CASES["pay_answers_stale_intent"], "--base-url", server.base_url, "--api-key",
                   server.api_key, "--second-api-key", server.second_api_key, "--record", str(path),
                   "--report-dir", str(tmp_path / "report"))
    assert done.returncode == 0, done.stdout[-2000:]
    checked = cli("check-trace", str(path))
    assert checked.returncode == 0 and ": clean" in checked.stdout, checked.stdout


def test_cxpay_traces_makes_each_trace_a_test_item(pytester: pytest.Pytester, recorded_trace: Path) -> None:
    folder = pytester.path / "traces"
    folder.mkdir()
    shutil.copy(recorded_trace, folder / "conformant.jsonl")
    shutil.copy(CORPUS / "pay_answers_stale_intent.jsonl", folder / "stale.jsonl")
    (folder / "notes.txt").write_text("not a trace: left alone\n")
    result = pytester.runpytest_subprocess("--cxpay-traces", str(folder), "-p", "no:randomly", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*cxpay_trace?conformant.jsonl? PASSED*", "*cxpay_trace?stale.jsonl? FAILED*"])
    result.stdout.fnmatch_lines([f"*{folder / 'stale.jsonl'}:183: check failed: response_body*",
                                 "*pay answered with an object that differs from the prediction*"])
    assert "Traceback" not in result.stdout.str()


def test_cxpay_traces_of_a_missing_folder_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--cxpay-traces", "nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cxpay-traces nowhere: no such folder*"])
