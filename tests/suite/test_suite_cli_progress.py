"""Progress of `cxpay-conformance run` and `selftest`: plain lines in a log (CI), a clock that
keeps running in a terminal while a failure is shrunk, and lines never cut at 80 columns."""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from rich.progress import Progress, TimeElapsedColumn

from cxpay_conformance.cli import _progress, main_group
from cxpay_conformance.cli._progress import LogLines, RunningClock, heartbeat
from cxpay_conformance.cli.run import _run_with_progress
from cxpay_conformance.suite import SuiteConfig
from tests.suite.faulty import FIRST_KEY, Running, serve, variant

SMALL = ["--max-examples", "4", "--max-steps", "8", "--no-database"]
PROGRESS = re.compile(r"progress: \d+/4 examples, \d+ steps, \d+ requests, \d+/\d+ transitions covered, \d:\d\d:\d\d")
# The concurrent phase's line counts its histories once (1 test case x 3 repeats).
RACE_PROGRESS = re.compile(r"progress: \d/3 concurrent histories, \d+ steps, \d+ requests, "
                           r"\d+/\d+ transitions covered, \d:\d\d:\d\d")
SHRINKING = re.compile(r"progress: shrinking the failure of example \d+ \(\d+ replays, shortest story \d+ steps\); "
                       r"\d+/4 examples, \d+ steps, .*, \d:\d\d:\d\d")


def invoke(*args: str) -> Result:
    """The command as in a CI log: output not a terminal, and no COLUMNS to widen it."""
    environment: dict[str, str | None] = {name: None for name in os.environ if name.startswith("CXPAY_")}
    return CliRunner().invoke(main_group, list(args), env={**environment, "COLUMNS": None, "LINES": None})


@pytest.fixture
def no_created() -> Iterator[Running]:
    with serve(variant("openapi")) as running:
        yield running


@pytest.fixture
def every_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """A progress line at every tick, rather than every 5 seconds: the test waits for no clock."""
    monkeypatch.setattr(_progress, "LOG_INTERVAL", 0.0)


def test_a_log_gets_plain_progress_lines_and_paths_whole(every_tick: None, tmp_path: Path) -> None:
    report_dir = tmp_path / ("a-report-directory-whose-path-is-longer-than-a-line-of-eighty-columns" * 2)
    result = invoke("run", "--seed", "11", *SMALL, "--report-dir", str(report_dir))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(PROGRESS.fullmatch(line) for line in lines), result.stdout
    assert any(RACE_PROGRESS.fullmatch(line) for line in lines), result.stdout
    assert not [line for line in lines if line.count("concurrent histor") > 1], result.stdout
    # 4 of ci's 150 examples: 40 * 4 // 150 = 1 of its concurrent test cases.
    assert lines.index("Profile ci: 4 examples x up to 8 steps, then 1 concurrent test case x 3; seed 11") < min(
        i for i, line in enumerate(lines) if line.startswith("progress: "))
    assert f"Coverage diagrams: {report_dir / 'coverage'}/" in lines


def test_a_log_is_told_when_shrinking_begins_and_how_far_it_got(no_created: Running, tmp_path: Path) -> None:
    # Not every_tick: the line that says shrinking began comes at once, whatever the interval.
    report_dir = tmp_path / ("a-report-directory-whose-path-is-longer-than-a-line-of-eighty-columns" * 2)
    result = invoke("run", "--base-url", no_created.base_url, "--api-key", FIRST_KEY, "--seed", "7", *SMALL,
                    "--settle-timeout", "0", "--report-dir", str(report_dir))
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert any(SHRINKING.fullmatch(line) for line in lines), result.stdout
    replay = next(line for line in lines if line.startswith("Replay: "))
    assert replay.startswith(f"Replay: CXPAY_API_KEY=... cxpay-conformance run --base-url {no_created.base_url} "
                             "--seed "), replay
    assert any(line.startswith(f"Reproduction script: {report_dir / 'repro.py'} ") for line in lines), result.stdout
    assert max(map(len, lines)) > 160  # nothing was cut to fit a width


def test_a_terminal_bar_says_how_far_shrinking_got(no_created: Running, tmp_path: Path) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=300)
    config = SuiteConfig(base_url=no_created.base_url, api_key=FIRST_KEY, seed=7, max_examples=4, max_steps=8,
                         settle_timeout=0, database=None, report_dir=str(tmp_path))
    result = _run_with_progress(config, console)
    assert result.failure is not None and result.first_failure is not None
    # The bar's last drawing: shrinking, the examples explored until the failure, the clock.
    final = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue()).splitlines()[-1]
    assert re.search(rf"shrinking the failure of example {result.first_failure.examples} "
                     rf"\(\d+ replays, shortest story {len(result.story)} steps\)", final), final
    assert re.search(rf"\b{result.first_failure.examples}/4\b.*\d:\d\d:\d\d", final), final


def test_the_terminal_clock_keeps_running_once_the_bar_is_full() -> None:
    """rich stops its elapsed clock when a task completes; shrinking goes on past that."""
    now = [0.0]
    progress = Progress(get_time=lambda: now[0], disable=True)
    task_id = progress.add_task("run", total=4)
    now[0] = 3.0
    progress.update(task_id, completed=4)  # every example run: rich notes the task finished
    now[0] = 75.0  # shrinking, a minute later
    task = progress.tasks[0]
    assert TimeElapsedColumn().render(task).plain == "0:00:03"  # what froze
    assert RunningClock().render(task).plain == "0:01:15"


def test_log_lines_come_at_most_once_per_interval() -> None:
    screen = io.StringIO()
    log = LogLines(Console(file=screen, width=40), interval=3600)
    for n in range(3):
        log.tick(lambda n=n: f"tick {n}")  # type: ignore[misc]
    assert screen.getvalue() == ""
    long = " ".join(["a long line"] * 10)  # no trailing space: rich before 14 drops it
    log.tick(lambda: long, now=True)
    assert screen.getvalue() == long + "\n"  # forced, and not wrapped at 40 columns


def test_a_heartbeat_ticks_from_a_thread_until_the_work_ends() -> None:
    screen = io.StringIO()
    log = LogLines(Console(file=screen), interval=0)
    beat = threading.Event()

    def line() -> str:
        beat.set()
        return "still running"

    with heartbeat(log, line):
        assert beat.wait(timeout=60)  # however slow the machine, the thread ticks
    after = screen.getvalue()
    assert after.startswith("still running\n")
    assert screen.getvalue() == after  # stopped with the work


def test_selftest_logs_a_line_for_each_run_as_it_ends(tmp_path: Path) -> None:
    result = invoke("selftest", "--profile", "quick", "--seed", "1", "--shrink-budget", "2", "--jobs", "1",
                    "--no-clean-run", "--fault", "session_missing_created")
    assert result.exit_code == 0, result.output
    assert re.search(r"^progress: 1/1 runs done \(last: session_missing_created: caught\), \d:\d\d:\d\d$",
                     result.stdout, flags=re.MULTILINE), result.stdout
