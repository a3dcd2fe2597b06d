"""A trace recorded from a conformant run: ``run --record`` against the embedded sandbox, a small
run with webhooks and a few concurrent test cases, once per test session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: The command that records the trace the tests check (seed fixed: the same run each time).
RECORD = ["run", "--profile", "quick", "--seed", "3", "--max-examples", "8", "--race-examples", "4"]


def cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``cxpay-conformance ARGS`` in a process of its own."""
    return subprocess.run([sys.executable, "-c", "from cxpay_conformance.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def recorded_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recorded")
    path = folder / "run.trace.jsonl"
    done = cli(*RECORD, "--record", str(path), "--report-dir", str(folder / "report"), cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CONFORMANT" in done.stdout
    return path


def pytest_configure(config: pytest.Config) -> None:
    # As tests/plugin/conftest.py does: pytester from a historic hook, not pytest_plugins.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
