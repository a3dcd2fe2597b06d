"""Every benchmark still runs: each script, on the smallest workload it takes, ends with the
command that reproduces its numbers. Speed is not tested here (docs/benchmarks.md has the
numbers); a benchmark that a refactor broke is, since nobody would notice until the next
measurement."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--examples", "2", "--steps", "3", "--seed", "1"]


def _schemathesis_as_benchmarked() -> bool:
    """Whether the installed Schemathesis reads the config the benchmarks give it (its ``[auth.wfc]``
    identities, benchmarks/_schemathesis.py): the version they were written against, or newer.
    The lowest declared one (4.2.0, in .venv-lowest) refuses that config, so there the latency
    benchmark runs without its Schemathesis column."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from _schemathesis import SCHEMATHESIS
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))

    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())

    return parts(version("schemathesis")) >= parts(SCHEMATHESIS)

#: script -> the arguments of its smallest run (loopback and in-process targets only).
RUNS = {
    "ceiling.py": [*TINY, "--reps", "1", "--modes", "in-process"],
    "overhead.py": [*TINY, "--reps", "1", "--modes", "in-process"],
    "suite_throughput.py": [*TINY, "--reps", "1", "--modes", "in-process"],
    "scaling.py": ["--sizes", "1,2", "--steps", "3", "--reps", "1", "--seed", "1", "--mode", "in-process"],
    "profile_suite.py": [*TINY, "--target", "in-process", "--top", "3"],
    "linearizability.py": ["--histories", "2", "--seed", "1"],
    "check_trace.py": ["--profile", "quick", "--examples", "2", "--reps", "1"],
    "round_trips.py": TINY,
    "threads_or_processes.py": ["--examples", "4", "--steps", "3", "--reps", "1"],
    "latency.py": ["--rtts", "direct,5", "--profiles", "quick", "--examples", "12", "--steps", "3", "--seed", "1",
                   "--workers", "1,2,auto", "--schemathesis-budget", "2" if _schemathesis_as_benchmarked() else "0"],
    "races.py": [*TINY, "--race-examples", "1", "--reps", "1", "--seeds", "1", "--default-seeds", "1",
                 "--faults", "no_lock_in_pay", "--alarm-runs", "1", "--stores", "memory", "--latency-ms", "5",
                 "--proxy-rtt-ms", "5"],
}


def test_every_benchmark_script_is_run_here() -> None:
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_")}
    # These two start whole pytest or Schemathesis runs; their --help is checked below.
    assert scripts - set(RUNS) == {"head_to_head.py", "xdist_speedup.py"}


@pytest.mark.parametrize("script", sorted(RUNS))
def test_the_benchmark_runs_on_a_tiny_workload(script: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *RUNS[script]],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert f"python benchmarks/{script}" in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize("script", ["head_to_head.py", "xdist_speedup.py"])
def test_the_longer_benchmarks_at_least_load(script: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "usage:" in done.stdout
