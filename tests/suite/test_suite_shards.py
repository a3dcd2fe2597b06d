"""Splitting a run (suite/shares.py): ``run --workers N`` and ``run --shard i/N`` run exactly the
same batches of one seed, with no overlap, compared on the batches each run reports it ran
(report.json); a failure found by one shard replays first in a later run of another shard through
a real Redis (tests/redis_server.py: with CI set, a missing redis-server fails)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from cxpay_conformance.server import ServerConfig
from cxpay_conformance.server.runner import run_in_thread
from cxpay_conformance.suite.shares import WHOLE, Share, batches, useful_workers

CLI = [sys.executable, "-c", "from cxpay_conformance.cli import main; main()", "run"]
#: Two pairs of merchants: each worker tests as a merchant of its own.
KEYS = {f"sk_test_shards_{n}_000000000": f"acct_shards_{n}" for n in range(4)}
#: As in test_suite_example_db.py: with an empty database, seed 4 first meets it at its 9th example.
FAULT = "last_payment_error_missing"


def _run(tmp_path: Path, name: str, base_url: str, *options: str, keys: tuple[str, str] | None = None) -> Any:
    out = tmp_path / f"{name}.json"
    first, second, *_ = keys or tuple(KEYS)
    done = subprocess.run([*CLI, "--base-url", base_url, "--api-key", first, "--second-api-key", second,
                           "--json", str(out), "--report-dir", str(tmp_path / name), *options],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(out.read_text()), done.stdout


def _ran(report: Any) -> set[tuple[str, int, int, int, int, int]]:
    return {(b["phase"], b["index"], b["seed"], b["size"], b["examples"], b["steps"]) for b in report["batches"]}


def test_the_shards_of_a_seed_run_exactly_the_batches_of_its_workers(tmp_path: Path) -> None:
    small = ("--seed", "11", "--max-examples", "30", "--max-steps", "5", "--race-examples", "12",
             "--no-database")
    with run_in_thread(ServerConfig(log_requests=False, api_keys=KEYS)) as server:
        a, b, c, d = server.api_keys
        workers, said = _run(tmp_path, "workers", server.base_url, *small, "--workers", "2",
                             keys=(f"{a},{c}", f"{b},{d}"))
        first, _ = _run(tmp_path, "shard1", server.base_url, *small, "--shard", "1/2",
                        "--junit-xml", str(tmp_path / "junit-1.xml"))
        second, _ = _run(tmp_path, "shard2", server.base_url, *small, "--shard", "2/2",
                         "--junit-xml", str(tmp_path / "junit-2.xml"))
        whole, _ = _run(tmp_path, "whole", server.base_url, *small, "--workers", "1")
    assert "Workers: 2 workers" in said
    assert workers["conformant"] and first["conformant"] and second["conformant"]
    assert workers["workers"] == 2 and (first["share"], second["share"]) == ("1/2", "2/2")
    # Batches 0 and 2 of the sequential phase and batch 0 of the concurrent one are share 1's.
    assert {(p, i) for p, i, *_ in _ran(first)} == {("sequential", 0), ("sequential", 2), ("concurrent", 0)}
    assert not _ran(first) & _ran(second), "the shards overlap"
    # Same batches, seeds, sizes, examples and steps: the examples actually run are the same.
    assert _ran(first) | _ran(second) == _ran(workers) == _ran(whole)
    assert first["examples"] + second["examples"] == workers["examples"] == 30
    # The CI matrix's JUnit reports merged as docs/scaling.md does it (junitparser, the test extra).
    subprocess.run([sys.executable, "-m", "junitparser", "merge", "--glob", str(tmp_path / "junit-*.xml"),
                    str(tmp_path / "merged.xml")], check=True, timeout=60)
    merged = ElementTree.parse(tmp_path / "merged.xml").getroot()
    assert sorted(s.get("name") or "" for s in merged.iter("testsuite")) == [
        "cxpay-conformance shard 1/2", "cxpay-conformance shard 2/2"]
    cases = list(merged.iter("testcase"))
    assert cases and len(cases) % 2 == 0 and not list(merged.iter("failure"))


def test_a_failure_found_by_shard_1_replays_first_in_a_later_run_of_shard_2_through_redis(
        redis_url: str, tmp_path: Path) -> None:
    empty = redis_url.rsplit("/", 1)[0] + "/4"
    small = ("--seed", "4", "--max-examples", "20", "--max-steps", "8", "--race-examples", "0",
             "--settle-timeout", "0", "--shrink-budget", "5")
    with run_in_thread(ServerConfig(log_requests=False, api_keys=KEYS, faults=frozenset({FAULT}))) as server:
        alone, _ = _run(tmp_path, "alone", server.base_url, *small, "--shard", "2/2", "--example-db", empty)
        found, _ = _run(tmp_path, "found", server.base_url, *small, "--shard", "1/2", "--example-db", redis_url)
        again, said = _run(tmp_path, "again", server.base_url, *small, "--shard", "2/2", "--example-db", redis_url)
    # Without what shard 1 kept, shard 2's batch does not meet the failure at its first example.
    assert alone["conformant"] or alone["failure"]["first_found"]["example"] > 1
    assert not found["conformant"], f"{FAULT} was not caught by shard 1"
    assert found["failure"]["first_found"]["example"] > 1
    assert not again["conformant"] and again["failure"]["first_found"]["example"] == 1, \
        "shard 1's failure kept in Redis was not tried first by shard 2"
    assert again["failure"]["check"] == found["failure"]["check"]
    assert {b["index"] for b in again["batches"]} == {1}
    assert "NOT CONFORMANT" in said


@pytest.mark.parametrize(("options", "says"), [
    (["--shard", "3/2"], "i must be from 1 to N"),
    (["--shard", "0/2"], "i must be from 1 to N"),
    (["--shard", "two"], "give i/N"),
    (["--workers", "0"], "give a number of workers from 1, or auto"),
    (["--workers", "many"], "give a number of workers from 1, or auto"),
    (["--base-url", "http://127.0.0.1:9", "--api-key", "sk_test_one_0000000", "--workers", "2"],
     "--workers 2 needs 2 merchants"),
    (["--api-key", "k1,k2", "--second-api-key", "s1"], "give one second merchant per merchant"),
])
def test_bad_splits_are_usage_errors(options: list[str], says: str, tmp_path: Path) -> None:
    done = subprocess.run([*CLI, *options, "--max-examples", "1", "--report-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in " ".join((done.stdout + done.stderr).split())
    assert "Traceback" not in done.stderr


def test_shares_split_the_batches_with_no_overlap_and_compose() -> None:
    every = {(b.index, b.seed) for b in batches(7, 95, 10)}
    assert len(every) == 10 and batches(7, 95, 10)[-1].size == 5
    for count in (1, 2, 3, 4, 11):
        parts = [{(b.index, b.seed) for b in Share(k, count).sequential(7, 95)} for k in range(count)]
        assert set().union(*parts) == every and sum(map(len, parts)) == len(every)
    # A shard run by workers: the workers' shares together are exactly the shard's.
    shard = Share.parse("2/3")
    split = [{b.index for b in part.sequential(7, 95)} for part in shard.split(2)]
    assert set().union(*split) == {b.index for b in shard.sequential(7, 95)} and not split[0] & split[1]
    assert WHOLE.sequential(7, 95)[0].seed == 7 and useful_workers(150, 40) == 15


def test_a_failure_one_worker_finds_is_the_runs_shrunk_and_reported_once(tmp_path: Path) -> None:
    small = ("--seed", "4", "--max-examples", "40", "--max-steps", "8", "--race-examples", "0",
             "--settle-timeout", "0", "--shrink-budget", "5", "--no-database")
    with run_in_thread(ServerConfig(log_requests=False, api_keys=KEYS, faults=frozenset({FAULT}))) as server:
        a, b, c, d = server.api_keys
        report, said = _run(tmp_path, "failing", server.base_url, *small, "--workers", "2",
                            "--junit-xml", str(tmp_path / "junit.xml"), keys=(f"{a},{c}", f"{b},{d}"))
    assert not report["conformant"] and report["workers"] == 2
    failing = report["failure"]
    assert failing["check"] == "state" and failing["story"], failing
    # The replay runs the failing batch alone, with one worker: its seed and size.
    batch = next(b for b in report["batches"] if f"--seed {b['seed']} --max-examples {b['size']} " in report["replay"])
    assert batch["phase"] == "sequential"
    assert said.count("NOT CONFORMANT") == 1 and "The shortest story that shows it:" in said
    assert (tmp_path / "failing" / "repro.py").is_file()
    assert 'failures="1"' in (tmp_path / "junit.xml").read_text()
