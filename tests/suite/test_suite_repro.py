"""The reproduction script a failing run writes: it sends the failing example's requests again,
in order, to the implementation the environment names, compares each answer with what the suite
expected of it, and exits 1 while the failure reproduces, 0 once it does not."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.suite import run_suite
from cxpay_conformance.suite.report import write_reports
from tests.suite.conftest import config_for
from tests.suite.faulty import FIRST_KEY, SECOND_KEY, serve, variant


def _run_script(script: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CXPAY_")}
    environment.update(CXPAY_API_KEY=FIRST_KEY, CXPAY_SECOND_API_KEY=SECOND_KEY, CXPAY_BASE_URL=base_url)
    return subprocess.run([sys.executable, str(script)], env=environment, capture_output=True, text=True,
                          timeout=60, check=False)


def test_the_script_fails_while_the_failure_reproduces_and_passes_once_it_does_not(
    reference: EmbeddedServer, tmp_path: Path
) -> None:
    with serve(variant("status")) as faulty:
        result = run_suite(config_for(faulty, seed=3, max_examples=20, max_steps=6))
        assert result.failure is not None and result.failure.check == "status"
        script = write_reports(result, tmp_path)["repro"]
        text = script.read_text(encoding="utf-8")
        assert FIRST_KEY not in text and SECOND_KEY not in text
        assert "[status]" in text.split('"""')[1]  # the docstring names the failure
        assert "expected by the suite ->" not in text  # the observed status is no longer labelled so
        runs = [_run_script(script, faulty.base_url) for _ in range(2)]
    fixed = _run_script(script, reference.base_url)

    observed = [exchange.status for exchange in result.exchanges]
    first_ids = set(result.ids.values())
    made: list[set[str]] = []
    for process in runs:
        assert process.returncode == 1, process.stdout + process.stderr  # reproduced
        assert [int(s) for s in re.findall(r" -> (\d{3})", process.stdout)] == observed, process.stdout
        # The answer the suite failed, with what it expected: the spec's rejection, not the fault's.
        assert "-> 400 parameter_invalid    DIFFERS: the suite expected 409 invalid_state" in process.stdout
        assert process.stdout.rstrip().splitlines()[-1].endswith("the suite expected 409 invalid_state, "
                                                                   "got 400 parameter_invalid")
        assert "REPRODUCED [status]: 1 answer(s) differ from what the suite expected:" in process.stdout
        made.append(set(re.findall(r"\b(?:cs|pi|ch)_[A-Za-z0-9]{16,}", process.stdout)))
    # Each run made its own objects: the script performs the requests again rather than
    # getting the answers the implementation remembered for the suite's Idempotency-Keys.
    assert made[0] and made[1]
    assert not made[0] & first_ids and not made[1] & first_ids and not made[0] & made[1]

    # Against a correct implementation every answer is what the suite expected.
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "DIFFERS" not in fixed.stdout
    assert "Not reproduced [status]: every answer was what the suite expected." in fixed.stdout


def test_a_replayed_request_must_get_the_first_answer_again_body_and_all(
    reference: EmbeddedServer, tmp_path: Path
) -> None:
    """The idempotency fault answers a replay with the same status and another body: the script
    compares the replay with its own first answer, not only the status."""
    with serve(variant("idempotency")) as faulty:
        result = run_suite(config_for(faulty, seed=3, max_examples=20, max_steps=6))
        assert result.failure is not None and result.failure.check == "idempotency"
        script = write_reports(result, tmp_path)["repro"]
        broken = _run_script(script, faulty.base_url)
    fixed = _run_script(script, reference.base_url)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert re.search(r"the suite expected answer \d+ again, got another body", broken.stdout), broken.stdout
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_a_failure_outside_what_the_script_compares_is_not_called_fixed(
    reference: EmbeddedServer, tmp_path: Path
) -> None:
    """An answer that lacks a required field has the status the suite expected: the script
    cannot see that failure, so it says so (exit 2) instead of reporting it gone."""
    with serve(variant("openapi")) as faulty:
        result = run_suite(config_for(faulty, seed=3, max_examples=20, max_steps=6))
        assert result.failure is not None and result.failure.check == "openapi"
        script = write_reports(result, tmp_path)["repro"]
        process = _run_script(script, faulty.base_url)
    assert process.returncode == 2, process.stdout + process.stderr
    assert "Cannot tell [openapi]" in process.stdout
