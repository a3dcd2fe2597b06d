"""What a failing concurrent history leaves behind: a story that draws the requests sent at once
side by side, one column per branch, and says why no order explains them; report.json with each
of those requests' branch and times; and a repro.py that races the branches again from threads
released by a barrier, exits 1 against the faulty server and 0 against a correct one.

``no_lock_in_pay`` holds its check-then-act gap open 50 ms, so two threads released together
meet in it nearly always: the script's attempts are enough to see it again.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cxpay_conformance.embedded import EmbeddedServer, embedded_server
from cxpay_conformance.suite import SuiteResult, run_suite
from cxpay_conformance.suite.race_repro import ATTEMPTS
from cxpay_conformance.suite.report import as_json, story, write_reports
from cxpay_conformance.suite.repro_text import said
from tests.suite.conftest import config_for


@pytest.fixture(scope="module")
def faulty() -> Iterator[EmbeddedServer]:
    with embedded_server(faults=("no_lock_in_pay",)) as server:
        yield server


@pytest.fixture(scope="module")
def caught(faulty: EmbeddedServer) -> SuiteResult:
    """The concurrent phase's failure on the faulty server (a few seeds, as the races' tests do)."""
    for seed in (1, 2, 3):
        result = run_suite(config_for(faulty, seed=seed, phases=("concurrent",), race_examples=5,
                                      race_repeats=2, settle_timeout=0.5))
        if result.failure is not None:
            break
    assert result.failure is not None, "no_lock_in_pay was not caught with seeds 1-3"
    assert result.failure.check == "linearizability", story(result)
    assert len({branch for branch, _sent, _answered in result.branches.values()}) >= 2, result.branches
    return result


def _run_script(script: Path, server: EmbeddedServer, base_url: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CXPAY_")}
    environment.update(CXPAY_API_KEY=server.api_key or "", CXPAY_SECOND_API_KEY=server.second_api_key or "",
                       CXPAY_BASE_URL=base_url or server.base_url)
    return subprocess.run([sys.executable, str(script)], env=environment, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_story_draws_the_requests_sent_at_once_side_by_side(caught: SuiteResult) -> None:
    text = story(caught)
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if re.match(r"\s*step \| branch 1 +\| branch 2", line))
    assert "requests sent at once, one column per branch" in lines[header - 1]
    columns = [m.start() for m in re.finditer(r"\| ", lines[header])]  # where each branch's column begins
    table = []
    for line in lines[header + 2:]:
        if not line.startswith("  ") or "|" not in line:
            break
        table.append(line)
    # Each request sent at once is in its branch's column, with its times and the answer, in the
    # order the requests were sent.
    by_start = sorted(caught.branches.items(), key=lambda item: (item[1][1], item[0]))
    rows = []
    for index, (branch, sent, answered) in by_start:
        times = f"sent {sent * 1000:.0f} ms, answered {answered * 1000:.0f} ms"
        column = columns[branch] + 2
        row = next(i for i, line in enumerate(table) if line[column:].startswith(times))
        assert table[row + 1][column:].startswith(f"-> {said(caught.exchanges[index])}"), table
        rows.append(row)
    assert rows == sorted(rows)
    # The prefix is told step by step as before; the requests sent at once only in the table.
    prefix = len(caught.story) - len(caught.branches)
    assert all(f"  {step.number:>2}. {step.story}" in lines for step in caught.story[:prefix])
    assert not any(re.match(r"\s+\d+\. branch \d", line) for line in lines)
    # Then why no order explains them: the checker's explanation, which closes the story.
    why = lines.index("Why no order explains them:")
    assert why > header
    explanation = str(caught.failure).splitlines()[1:]
    assert explanation and explanation[0].startswith("No order of the")
    assert lines[why + 1:why + 1 + len(explanation)] == [f"  {line}" for line in explanation]
    assert "a race reproduces only sometimes" in text


def test_report_json_gives_each_request_sent_at_once_its_branch_and_times(caught: SuiteResult) -> None:
    failure: dict[str, Any] = json.loads(json.dumps(as_json(caught)))["failure"]
    assert {"check", "message", "story", "step", "expected", "observed", "first_found"} <= set(failure)
    sent = failure["branches"]
    assert sorted(entry["exchange"] for entry in sent) == sorted(caught.branches)
    for entry in sent:
        branch, start, end = caught.branches[entry["exchange"]]
        assert entry["branch"] == branch + 1  # as the story numbers them
        assert entry["sent_ms"] == round(start * 1000, 1) and entry["answered_ms"] == round(end * 1000, 1)
        assert entry["status"] == caught.exchanges[entry["exchange"]].status
        assert f"branch {entry['branch']}, " in caught.story[entry["step"] - 1].story
    assert [entry["sent_ms"] for entry in sent] == sorted(entry["sent_ms"] for entry in sent)


def test_repro_races_the_branches_again_and_passes_once_the_race_is_gone(
    caught: SuiteResult, faulty: EmbeddedServer, tmp_path: Path
) -> None:
    script = write_reports(caught, tmp_path)["repro"]
    text = script.read_text(encoding="utf-8")
    header = text.split('"""')[1]
    assert "reproduces only sometimes" in header and "[linearizability]" in header
    assert "threading.Barrier" in text and "import cxpay_conformance" not in text
    assert faulty.api_key and faulty.api_key not in text

    reproduced = _run_script(script, faulty)
    assert reproduced.returncode == 1, reproduced.stdout + reproduced.stderr
    assert "REPRODUCED [linearizability] in attempt" in reproduced.stdout
    # The requests sent at once were sent from the branches' threads, each with its times.
    numbers = {int(n) for n in re.findall(r"^\s+(\d+)\. \[\s*\d+-\s*\d+ ms\]", reproduced.stdout, re.M)}
    assert len(numbers) == len(caught.branches)

    with embedded_server() as correct:
        passed = _run_script(script, correct)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert f"Attempt {ATTEMPTS} of {ATTEMPTS}" in passed.stdout
    assert "Not reproduced [linearizability]" in passed.stdout
    # Each attempt raced on a payment of its own (the prefix again, under its own keys).
    attempts = passed.stdout.split("Attempt ")[1:]
    sessions = [set(re.findall(r"/checkout-sessions/(cs_\w+)", attempt)) for attempt in attempts]
    assert len(attempts) == ATTEMPTS and all(sessions), passed.stdout
    assert len(set().union(*sessions)) >= ATTEMPTS and not set().union(*sessions) & set(caught.ids.values())

    # No answer at all is no reproduction: it cannot tell (2), without a traceback.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{unused.getsockname()[1]}"
    unreachable = _run_script(script, faulty, base_url=nobody)
    assert unreachable.returncode == 2, unreachable.stdout + unreachable.stderr
    assert "did not answer" in unreachable.stdout and "Traceback" not in unreachable.stderr
