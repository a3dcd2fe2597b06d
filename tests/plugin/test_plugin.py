"""The pytest plugin: `pytest --cxpay` runs the conformance suite as shard items, in parallel
under pytest-xdist, reported in JUnit XML, and a non-conformant implementation fails them with
the story; without --cxpay it adds nothing."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.plugin.conftest import ROOT
from tests.suite.faulty import FIRST_KEY, SECOND_KEY, Running, serve

SMALL = ("--cxpay-max-examples", "6", "--cxpay-max-steps", "15")


#: Two batches of 10 examples (suite/shares.py), so two shards each have one.
TWO_BATCHES = ("--cxpay-max-examples", "20", "--cxpay-max-steps", "5", "--cxpay-race-examples", "0")


def test_cxpay_runs_the_suite_as_two_shards_and_reports_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app="def test_the_app():\n    pass\n")
    result = pytester.runpytest("--cxpay", *TWO_BATCHES, "--cxpay-shards", "2", "--cxpay-seed", "5", "-v",
                                "--junitxml", "junit.xml")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "cxpay: testing the embedded reference server; seed 5 (rerun with --cxpay-seed 5)",
        "*cxpay_conformance[[]shard-1-of-2[]] PASSED*",
        "*cxpay_conformance[[]shard-2-of-2[]] PASSED*",
    ])
    cases = [c.get("name") for c in ElementTree.parse(pytester.path / "junit.xml").getroot().iter("testcase")]
    assert sorted(cases) == ["cxpay_conformance[shard-1-of-2]", "cxpay_conformance[shard-2-of-2]", "test_the_app"]

    # Each shard is a share of the session's seeded batches (the rule of run --shard): one batch each.
    reports = [json.loads((pytester.path / "cxpay-report" / f"shard-{n}" / "report.json").read_text())
               for n in (1, 2)]
    assert all(r["conformant"] for r in reports)
    assert [r["seed"] for r in reports] == [5, 5] and [r["share"] for r in reports] == ["1/2", "2/2"]
    assert [[(b["index"], b["examples"]) for b in r["batches"]] for r in reports] == [[(0, 10)], [(1, 10)]]
    assert [r["replay"].split("--max-examples ")[1] for r in reports] == [
        "20 --max-steps 5 --shard 1/2 --race-examples 0", "20 --max-steps 5 --shard 2/2 --race-examples 0"]


def test_without_xdist_the_run_is_one_item(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--cxpay", *TWO_BATCHES, "--cxpay-seed", "5", "-v")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "cxpay-report" / "shard-1" / "report.json").read_text())
    assert report["share"] == "1/1" and [b["index"] for b in report["batches"]] == [0, 1]


@pytest.mark.parametrize("workers", ["2", "auto"])
def test_shards_run_in_parallel_under_xdist_with_one_session_seed(
    pytester: pytest.Pytester, in_this_checkout: None, workers: str
) -> None:
    # Under xdist the default is a shard per batch of the run: here 2.
    result = pytester.runpytest_subprocess("--cxpay", *TWO_BATCHES, "-n", workers, "-p", "no:cacheprovider",
                                           timeout=240)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["cxpay: testing the embedded reference server; seed *", "*workers [[]2 items[]]*"])
    header = re.search(r"cxpay: testing the embedded reference server; seed (\d+)", result.stdout.str())
    assert header is not None
    seed = int(header.group(1))
    # The workers agreed on the controller's (random) seed, and ran its two batches between them.
    reports = [json.loads((pytester.path / "cxpay-report" / f"shard-{n}" / "report.json").read_text())
               for n in (1, 2)]
    assert [r["seed"] for r in reports] == [seed, seed]
    assert [[b["index"] for b in r["batches"]] for r in reports] == [[0], [1]]
    assert reports[1]["batches"][0]["seed"] == random.Random(f"{seed}:1").randrange(2**32)


def test_a_faulty_implementation_fails_the_shards_with_the_story(
    pytester: pytest.Pytester, no_created: Running
) -> None:
    result = pytester.runpytest("--cxpay-base-url", no_created.base_url, "--cxpay-api-key", FIRST_KEY,
                                "--cxpay-second-api-key", SECOND_KEY, "--cxpay-max-examples", "4",
                                "--cxpay-max-steps", "6", "--cxpay-seed", "7")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    result.stdout.fnmatch_lines([
        f"cxpay: testing {no_created.base_url}; seed 7 (rerun with --cxpay-seed 7)",
        "*Check failed: openapi*",
        "*'created' is a required property*",
        "*The shortest story that shows it:*",
        "*1. merchant: create_session*",
        "*Replay: CXPAY_API_KEY=... CXPAY_SECOND_API_KEY=... cxpay-conformance run --base-url "
        f"{no_created.base_url} --seed *",
        "*Reproduction script: cxpay-report/shard-1/repro.py*",
        "*HTML report: cxpay-report/shard-1/index.html*",
    ])
    assert "Traceback" not in output and "_pytest_support.py" not in output and "runner.py" not in output
    assert FIRST_KEY not in output and SECOND_KEY not in output
    assert (pytester.path / "cxpay-report" / "shard-1" / "repro.py").is_file()


def test_an_unreachable_implementation_fails_with_what_to_check(pytester: pytest.Pytester) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = pytester.runpytest("--cxpay-base-url", f"http://127.0.0.1:{port}", "--cxpay-api-key", FIRST_KEY,
                                "--cxpay-shards", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*cannot reach http://127.0.0.1:{port}*is the implementation running?*"])
    assert "Traceback" not in result.stdout.str()


def test_a_wrong_key_fails_with_a_message_about_the_key_as_pytest_spells_it(pytester: pytest.Pytester) -> None:
    """The plugin runs the same checks before the run as the command line (suite/preflight.py)."""
    with serve(None) as running:
        result = pytester.runpytest("--cxpay-base-url", running.base_url, "--cxpay-api-key", FIRST_KEY,
                                    "--cxpay-second-api-key", "sk_test_not_a_merchant", "--cxpay-shards", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*the key given by --cxpay-second-api-key (or CXPAY_SECOND_API_KEY) was refused "
                                 f"by {running.base_url}*check the secret*"])
    assert "Traceback" not in result.stdout.str() and "Check failed" not in result.stdout.str()


def test_a_base_url_needs_a_key(pytester: pytest.Pytester, in_this_checkout: None) -> None:
    result = pytester.runpytest("--cxpay-base-url", "http://127.0.0.1:9", "--cxpay-shards", "1")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*--cxpay-base-url needs --cxpay-api-key (or CXPAY_API_KEY)*"])


def test_the_keys_come_from_the_environment_as_for_the_command_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXPAY_API_KEY", FIRST_KEY)
    monkeypatch.setenv("CXPAY_SECOND_API_KEY", SECOND_KEY)
    with serve(None) as running:
        result = pytester.runpytest("--cxpay-base-url", running.base_url, "--cxpay-shards", "1",
                                    "--cxpay-max-examples", "2", "--cxpay-max-steps", "8", "--cxpay-seed", "3")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    report = json.loads((pytester.path / "cxpay-report" / "shard-1" / "report.json").read_text())
    assert report["conformant"]
    assert report["checks_run"].get("tenant_isolation", 0) > 0  # the second key was used


def test_the_profile_defaults_to_the_command_lines(pytester: pytest.Pytester, in_this_checkout: None) -> None:
    from cxpay_conformance.cli.run import run

    default = next(p.default for p in run.params if p.name == "profile")
    # In a child process: the plugin module this process loaded is the installed copy.
    pytester.makeconftest("def pytest_report_header(config):\n"
                          "    return 'profile: ' + config.getoption('--cxpay-profile')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.stdout.fnmatch_lines([f"profile: {default}"])
    assert default == "ci"


def test_the_options_are_in_a_cxpay_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == pytest.ExitCode.OK
    text = result.stdout.str()
    group = text.split("CX Pay conformance suite:", 1)[1]
    group = group[: re.search(r"\n\S[^\n]*:\n", group).start()]  # type: ignore[union-attr]
    options = re.findall(r"^\s+(--cxpay[a-z-]*)", group, flags=re.MULTILINE)
    assert options == ["--cxpay", "--cxpay-base-url", "--cxpay-api-key", "--cxpay-second-api-key",
                       "--cxpay-spec", "--cxpay-profile", "--cxpay-max-examples", "--cxpay-max-steps",
                       "--cxpay-phases", "--cxpay-race-examples", "--cxpay-race-repeats", "--cxpay-seed",
                       "--cxpay-shards", "--cxpay-checks", "--cxpay-skip-checks",
                       "--cxpay-webhook-host", "--cxpay-shrink-budget", "--cxpay-traces", "--cxpay-example-db"]


def test_pytest_runs_where_pytest_xdist_is_missing(pytester: pytest.Pytester, in_this_checkout: None) -> None:
    """The plugin loads on every pytest run of anyone who installs the package, xdist or not.

    ``-p no:xdist`` leaves xdist's hook specifications unregistered, as in an environment
    without it: pytest then refuses an xdist hook the plugin does not mark optional."""
    pytester.makepyfile(test_app="def test_the_app():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:cacheprovider", timeout=120)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.OK, output
    result.assert_outcomes(passed=1)
    assert "PluginValidationError" not in output


def test_an_editable_install_loads_the_plugin_from_the_checkout(tmp_path: Path) -> None:
    """pytest loads the plugin module pytest11 names; an editable install must find the
    checkout's file, not a copy in site-packages that stays as it was at install time.

    Asked in a fresh interpreter outside the checkout, so that neither the current directory
    nor PYTHONPATH puts the checkout first."""
    where = "import importlib.util as u; print(u.find_spec('{}').origin)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def origin(module: str) -> Path:
        found = subprocess.run([sys.executable, "-c", where.format(module)], cwd=tmp_path, env=env,
                               capture_output=True, text=True, check=True)
        return Path(found.stdout.strip()).resolve()

    if origin("cxpay_conformance") != ROOT / "cxpay_conformance" / "__init__.py":
        pytest.skip("the package is not installed from this checkout in editable mode")
    assert origin("_cxpay_pytestplugin") == ROOT / "_cxpay_pytestplugin.py"


def test_without_cxpay_the_plugin_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app="def test_the_app():\n    pass\n")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    assert "cxpay:" not in result.stdout.str() and "cxpay_conformance[" not in result.stdout.str()
    collected = pytester.runpytest("--collect-only", "-q")
    assert "cxpay_conformance" not in collected.stdout.str()


def test_under_xdist_each_worker_tests_as_its_own_merchant(pytester: pytest.Pytester, in_this_checkout: None) -> None:
    from cxpay_conformance.server import ServerConfig
    from cxpay_conformance.server.runner import run_in_thread

    keys = {f"sk_test_plugin_{n}_00000000": f"acct_plugin_{n}" for n in range(4)}
    with run_in_thread(ServerConfig(log_requests=False, api_keys=keys)) as server:
        a, b, c, d = server.api_keys
        result = pytester.runpytest_subprocess("--cxpay-base-url", server.base_url, "--cxpay-api-key", f"{a},{c}",
                                               "--cxpay-second-api-key", f"{b},{d}", *TWO_BATCHES, "-n", "2",
                                               "-p", "no:cacheprovider", timeout=240)
        # Both merchants were tested: each has payments (and so events) of its own.
        import httpx

        events = [httpx.get(f"{server.base_url}/events", headers={"Authorization": f"Bearer {key}"}).json()["data"]
                  for key in (a, c)]
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2)
    assert all(events), "one xdist worker did not test as the merchant of its key"
    output = result.stdout.str() + result.stderr.str()
    assert all(key not in output for key in keys)


def test_under_xdist_one_key_for_two_workers_is_refused(pytester: pytest.Pytester, in_this_checkout: None) -> None:
    with serve(None) as running:
        result = pytester.runpytest_subprocess("--cxpay-base-url", running.base_url, "--cxpay-api-key", FIRST_KEY,
                                               *TWO_BATCHES, "-n", "2", "-p", "no:cacheprovider", timeout=240)
    assert result.ret != pytest.ExitCode.OK
    output = result.stdout.str() + result.stderr.str()
    assert "--cxpay-api-key gives 1 merchant's key for 2 pytest-xdist workers" in " ".join(output.split()), output
    assert FIRST_KEY not in output
