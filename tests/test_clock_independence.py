"""No test depends on the time between collecting it and running it: run with the clock
``tests/_skewclock.py`` skews (collection 600 s in the past), the tests that once signed webhook
deliveries at collection still pass. The plugin is checked first, so a pass means something."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Takes the time at collection and checks at run time that the plugin made SKEW seconds pass.
PROBE = """
import time

from tests._skewclock import SKEW

COLLECTED = (time.time(), time.monotonic())


def test_the_run_is_skew_seconds_after_collection():
    wall, steady = time.time() - COLLECTED[0], time.monotonic() - COLLECTED[1]
    assert SKEW <= wall < SKEW + 120 and SKEW <= steady < SKEW + 120, (wall, steady)
"""


def pytest_under_skew(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "tests._skewclock", "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_the_plugin_puts_collection_in_the_past(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(textwrap.dedent(PROBE))
    run = pytest_under_skew(str(probe), "--rootdir", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr


def test_webhook_signatures_are_made_when_the_test_runs() -> None:
    run = pytest_under_skew("tests/suite/test_suite_receiver.py")
    assert run.returncode == 0, run.stdout + run.stderr
