"""The reproduction script a failing run writes: it sends the failing example's requests again,
in order, to the implementation the environment names, and prints each answer (it replays; it
does not judge)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cxpay_conformance.suite import run_suite
from cxpay_conformance.suite.report import write_reports
from tests.suite.conftest import config_for
from tests.suite.faulty import FIRST_KEY, SECOND_KEY, serve, variant


def test_the_reproduction_script_sends_the_failing_requests_again(tmp_path: Path) -> None:
    with serve(variant("status")) as faulty:
        result = run_suite(config_for(faulty, seed=3, max_examples=20, max_steps=6))
        assert result.failure is not None and result.failure.check == "status"
        script = write_reports(result, tmp_path)["repro"]
        text = script.read_text(encoding="utf-8")
        assert FIRST_KEY not in text and SECOND_KEY not in text
        assert "[status]" in text.split('"""')[1]  # the docstring names the failure

        environment = {k: v for k, v in os.environ.items() if not k.startswith("CXPAY_")}
        environment.update(CXPAY_API_KEY=FIRST_KEY, CXPAY_SECOND_API_KEY=SECOND_KEY, CXPAY_BASE_URL=faulty.base_url)
        runs = [subprocess.run([sys.executable, str(script)], env=environment, capture_output=True, text=True,
                               timeout=60, check=False) for _ in range(2)]

    expected = [exchange.status for exchange in result.exchanges]
    first_ids = set(result.ids.values())
    made: list[set[str]] = []
    for process in runs:
        assert process.returncode == 0, process.stderr
        assert [int(s) for s in re.findall(r" -> (\d{3}) ", process.stdout)] == expected, process.stdout
        assert "parameter_invalid" in process.stdout.splitlines()[-1]  # the faulty answer, printed
        made.append(set(re.findall(r"\b(?:cs|pi|ch)_[A-Za-z0-9]{16,}", process.stdout)))
    # Each run made its own objects: the script performs the requests again rather than
    # getting the answers the implementation remembered for the suite's Idempotency-Keys.
    assert made[0] and made[1]
    assert not made[0] & first_ids and not made[1] & first_ids and not made[0] & made[1]
