"""`cxpay-conformance run`: exit codes, what it prints, and the reports it writes.

Long runs go through click's CliRunner (in process); the error exits run the real command in a
child process, so that the exit code, stderr and the absence of a traceback are what a user
sees, and a hang would show as a timeout.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner, Result

from cxpay_conformance.cli import main_group
from cxpay_conformance.suite.checks import CHECKS
from tests.suite.faulty import FIRST_KEY, SECOND_KEY, Fault, Running, Seen, serve, variant

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--max-examples", "4", "--max-steps", "8", "--no-database"]


def run_cli(*args: str, **env: str | None) -> Result:
    environment: dict[str, str | None] = {name: None for name in os.environ if name.startswith("CXPAY_")}
    return CliRunner().invoke(main_group, ["run", *args], env={**environment, "COLUMNS": "200", **env})


def run_command(*args: str, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """The command in a child process, as a user runs it; a hang fails the test by timing out."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CXPAY_")}
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", "from cxpay_conformance.cli import main; main()", "run", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, check=False,
    )


# --- conformant -------------------------------------------------------------------------------


def test_run_against_the_embedded_server_passes_and_writes_valid_reports(tmp_path: Path) -> None:
    result = run_cli("--seed", "11", *SMALL, "--race-examples", "2", "--skip-checks", "auth",
                     "--report-dir", str(tmp_path / "report"),
                     "--json", str(tmp_path / "result.json"), "--junit-xml", str(tmp_path / "junit.xml"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Testing the embedded reference server at http://127.0.0.1:" in out
    lines = out.splitlines()
    # announced before the run
    assert "Profile ci: 4 examples x up to 8 steps, then 2 concurrent test cases x 3; seed 11" in lines
    assert "Coverage of the spec" in out
    for name in ("checkout_session", "payment_intent", "charge"):
        assert name in out
    assert "Rejections tested:" in out and "Checks run:" in out
    assert "CONFORMANT: every check passed." in out
    assert any(re.fullmatch(r"\d+ examples, \d+ steps, 6 concurrent histories, \d+ requests in [\d.]+s; seed 11",
                            line) for line in lines)

    report = json.loads((tmp_path / "result.json").read_text())
    assert report["conformant"] is True and report["seed"] == 11 and report["failure"] is None
    # The replay runs the same checks: which are selected changes the examples drawn.
    assert report["replay"] == ("cxpay-conformance run --seed 11 --max-examples 4 --max-steps 8 --skip-checks auth "
                                "--race-examples 2")
    assert report["races"] == 6
    assert "auth" not in report["checks_run"] and report["checks_run"]["state"] > 0
    assert {c["object"] for c in report["coverage"]} == {"checkout_session", "payment_intent", "charge"}
    assert json.loads((tmp_path / "report" / "report.json").read_text())["seed"] == 11

    suite = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == str(len(CHECKS)) and suite.get("failures") == "0"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == list(CHECKS)
    assert cases["auth"].find("skipped") is not None
    assert all(cases[name].find("skipped") is None and cases[name].find("failure") is None
               for name in CHECKS if name != "auth")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["seed"] == "11" and properties["replay"] == report["replay"]


def test_list_checks_names_every_check_and_what_it_verifies() -> None:
    result = run_cli("--list-checks")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert listed == list(CHECKS)
    assert CHECKS["tenant_isolation"].description.split(",")[0] in result.stdout


# --- not conformant ---------------------------------------------------------------------------


@pytest.fixture
def no_created() -> Iterator[Running]:
    with serve(variant("openapi")) as running:
        yield running


def test_run_against_a_faulty_implementation_fails_with_the_story_and_no_key_anywhere(
    no_created: Running, tmp_path: Path
) -> None:
    report_dir = tmp_path / "report"
    result = run_cli("--base-url", no_created.base_url, "--api-key", FIRST_KEY, "--second-api-key", SECOND_KEY,
                     "--seed", "7", *SMALL, "--settle-timeout", "0", "--report-dir", str(report_dir),
                     "--json", str(tmp_path / "result.json"), "--junit-xml", str(tmp_path / "junit.xml"))
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "Check failed: openapi" in out
    assert "'created' is a required property" in out
    assert "The shortest story that shows it:" in out and "   1. merchant: create_session" in out
    # The same implementation, both keys (as variables to fill in, never their values), the same options.
    replay = (f"CXPAY_API_KEY=... CXPAY_SECOND_API_KEY=... cxpay-conformance run --base-url {no_created.base_url} "
              "--seed 7 --max-examples 4 --max-steps 8 --settle-timeout 0.0")
    assert f"Replay: {replay}\n" in out
    assert "NOT CONFORMANT: check openapi failed." in out
    assert f"Reproduction script: {report_dir / 'repro.py'}" in out
    assert (report_dir / "repro.py").is_file() and (report_dir / "story.txt").is_file()
    assert "Check failed: openapi" in (report_dir / "story.txt").read_text()

    assert "The first failure (openapi) came in example 1, after " in out
    failure = json.loads((tmp_path / "result.json").read_text())["failure"]
    assert failure["check"] == "openapi" and failure["story"][0]["event"] == "create_session"
    assert json.loads((tmp_path / "result.json").read_text())["replay"] == replay
    assert failure["first_found"]["check"] == "openapi" and failure["first_found"]["example"] == 1
    cases = {c.get("name"): c for c in ElementTree.parse(tmp_path / "junit.xml").getroot().iter("testcase")}
    assert "created" in cases["openapi"].find("failure").get("message")  # type: ignore[union-attr]
    properties = {p.get("name"): p.get("value") for p in ElementTree.parse(tmp_path / "junit.xml").iter("property")}
    assert properties["replay"] == replay

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) >= 5
    for path in written:
        text = path.read_bytes().decode("utf-8", "replace")
        assert FIRST_KEY not in text and SECOND_KEY not in text, f"a key was written to {path}"
    assert FIRST_KEY not in result.output and SECOND_KEY not in result.output


def test_the_key_may_come_from_the_environment(no_created: Running, tmp_path: Path) -> None:
    result = run_cli("--base-url", no_created.base_url, "--seed", "7", *SMALL, "--checks", "openapi",
                     "--report-dir", str(tmp_path), CXPAY_API_KEY=FIRST_KEY)
    assert result.exit_code == 1, result.output
    assert "Check failed: openapi" in result.stdout
    assert FIRST_KEY not in result.output
    # One key given: the replay asks for that one, and runs the same checks.
    assert (f"Replay: CXPAY_API_KEY=... cxpay-conformance run --base-url {no_created.base_url} --seed 7 "
            "--max-examples 4 --max-steps 8 --checks openapi\n") in result.stdout


# --- usage errors: exit 2 ---------------------------------------------------------------------


def _no_traceback(process: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in process.stderr + process.stdout, process.stderr


def test_an_unknown_check_is_a_usage_error_listing_the_checks(tmp_path: Path) -> None:
    process = run_command("--checks", "state,stat", *SMALL, cwd=tmp_path)
    assert process.returncode == 2, process.stderr
    assert "error: unknown check: stat; the checks are: " + ", ".join(CHECKS) in process.stderr
    _no_traceback(process)


def test_a_base_url_without_a_key_is_a_usage_error(tmp_path: Path) -> None:
    process = run_command("--base-url", "http://127.0.0.1:9", cwd=tmp_path)
    assert process.returncode == 2
    assert "--base-url needs --api-key (or CXPAY_API_KEY)" in process.stderr
    _no_traceback(process)


def test_a_bad_spec_is_reported_with_file_line_and_column(tmp_path: Path) -> None:
    spec = (ROOT / "spec" / "cxpay.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec.replace("    prefix: cs_\n", "    prefix: [cs_\n", 1), encoding="utf-8")
    (tmp_path / "openapi.yaml").write_text((ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8"))
    process = run_command("--spec", str(bad), *SMALL, cwd=tmp_path)
    assert process.returncode == 2, process.stdout + process.stderr
    line = spec[: spec.index("    prefix: cs_\n")].count("\n") + 1
    assert f"bad.yaml:{line}:" in process.stderr or f"bad.yaml:{line + 1}:" in process.stderr, process.stderr
    _no_traceback(process)


def test_a_spec_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    process = run_command("--spec", str(tmp_path / "missing.yaml"), *SMALL, cwd=tmp_path)
    assert process.returncode == 2, process.stdout + process.stderr
    assert "missing.yaml" in process.stderr
    _no_traceback(process)


# --- misconfiguration: exit 2 before the run, never blamed on the implementation ----------------


@pytest.fixture
def watched() -> Iterator[tuple[Running, list[str]]]:
    """The reference server, noting each request it is sent as ``METHOD /path``."""
    seen: list[str] = []

    def note(request: Seen) -> Seen:
        seen.append(f"{request.method} {request.path}")
        return request

    with serve(Fault("watched", request=note)) as running:
        yield running, seen


def test_a_wrong_api_key_is_a_usage_error_before_the_run(watched: tuple[Running, list[str]], tmp_path: Path) -> None:
    running, seen = watched
    process = run_command("--base-url", running.base_url, "--api-key", "sk_test_not_a_merchant", *SMALL, cwd=tmp_path)
    assert process.returncode == 2, process.stdout + process.stderr
    assert (f"error: the key given by --api-key (or CXPAY_API_KEY) was refused by {running.base_url} "
            "(GET ") in process.stderr
    assert "401 api_key_invalid): check the secret" in process.stderr
    _no_traceback(process)
    # One request for the key, and nothing of a run: no example, not even its announcement.
    assert len(seen) == 1 and seen[0].startswith("GET "), seen
    assert "Profile" not in process.stdout and not (tmp_path / "cxpay-report").exists()


def test_a_wrong_second_api_key_is_a_usage_error_before_the_run(
    watched: tuple[Running, list[str]], tmp_path: Path
) -> None:
    running, seen = watched
    process = run_command("--base-url", running.base_url, "--api-key", FIRST_KEY,
                          "--second-api-key", "sk_test_not_a_merchant", *SMALL, cwd=tmp_path)
    assert process.returncode == 2, process.stdout + process.stderr
    assert ("error: the key given by --second-api-key (or CXPAY_SECOND_API_KEY) was refused by "
            f"{running.base_url}") in process.stderr
    assert "--api-key (or CXPAY_API_KEY) was refused" not in process.stderr  # the first key is fine
    _no_traceback(process)
    assert len(seen) == 2 and all(s.startswith("GET ") for s in seen), seen
    assert "Profile" not in process.stdout


def test_the_same_key_twice_is_a_usage_error(watched: tuple[Running, list[str]], tmp_path: Path) -> None:
    running, _ = watched
    process = run_command("--base-url", running.base_url, "--api-key", FIRST_KEY, "--second-api-key", FIRST_KEY,
                          *SMALL, cwd=tmp_path)
    assert process.returncode == 2, process.stdout + process.stderr
    assert "error: --second-api-key (or CXPAY_SECOND_API_KEY) is the same key as --api-key" in process.stderr
    _no_traceback(process)


def test_a_base_url_without_a_scheme_is_a_usage_error_not_unreachable(tmp_path: Path) -> None:
    port = _closed_port()
    process = run_command("--base-url", f"127.0.0.1:{port}", "--api-key", FIRST_KEY, *SMALL, cwd=tmp_path)
    assert process.returncode == 2, process.stdout + process.stderr
    assert (f"error: --base-url '127.0.0.1:{port}' is not an http:// or https:// URL; "
            f"did you mean http://127.0.0.1:{port}?") in process.stderr
    assert "unreachable" not in process.stderr
    _no_traceback(process)


def test_every_problem_with_the_options_is_told_at_once_before_anything_starts(tmp_path: Path) -> None:
    junit = tmp_path / "missing" / "junit.xml"
    process = run_command("--checks", "state,stat", "--junit-xml", str(junit), *SMALL, cwd=tmp_path)
    assert process.returncode == 2, process.stdout + process.stderr
    assert "error: 2 problems with the options; fix them all before running:" in process.stderr
    assert "  unknown check: stat; the checks are: " + ", ".join(CHECKS) in process.stderr
    assert f"  --junit-xml {junit}: the folder {junit.parent} does not exist" in process.stderr
    assert "Testing the embedded reference server" not in process.stdout  # nothing started
    _no_traceback(process)


@pytest.mark.parametrize("option", ["--junit-xml", "--json", "--report-dir"])
def test_a_report_path_that_cannot_be_written_is_a_usage_error_before_the_run(option: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    path = tmp_path / ("missing" if option != "--report-dir" else "a-file") / "report"
    process = run_command(option, str(path), *SMALL, cwd=tmp_path)
    assert process.returncode == 2, process.stdout + process.stderr
    why = f"the folder {path.parent} does not exist" if option != "--report-dir" else f"{path.parent} is a file"
    assert f"error: {option} {path}: {why}" in process.stderr
    assert "Profile" not in process.stdout  # refused before the run, not after it
    _no_traceback(process)


def test_a_report_that_cannot_be_written_at_the_end_still_leaves_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The paths are checked before the run, but a disk can fill during it: the verdict and the
    other reports are kept, the lost one is named, and a conformant run does not pass without it."""
    write_text = Path.write_text

    def full_disk(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name == "junit.xml":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    junit = tmp_path / "junit.xml"
    result = run_cli("--seed", "11", *SMALL, "--report-dir", str(tmp_path / "report"),
                     "--json", str(tmp_path / "result.json"), "--junit-xml", str(junit))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "CONFORMANT: every check passed." in result.stdout
    assert (f"error: --junit-xml {junit}: could not be written ({os.strerror(errno.ENOSPC)}); "
            "the verdict above stands") in result.stderr
    assert json.loads((tmp_path / "result.json").read_text())["conformant"] is True
    assert (tmp_path / "report" / "report.json").is_file() and not junit.exists()


# --- unreachable: exit 3 ----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_implementation_exits_3_saying_what_to_check(tmp_path: Path) -> None:
    port = _closed_port()
    process = run_command("--base-url", f"http://127.0.0.1:{port}", "--api-key", FIRST_KEY, *SMALL, cwd=tmp_path)
    assert process.returncode == 3, process.stdout + process.stderr
    assert f"error: the implementation is unreachable: cannot reach http://127.0.0.1:{port}" in process.stderr
    assert "is the implementation running?" in process.stderr
    assert FIRST_KEY not in process.stdout + process.stderr
    _no_traceback(process)


@pytest.fixture
def html_server() -> Iterator[str]:
    """A web server that is not a CX Pay implementation: it answers every request with HTML."""

    class Handler(BaseHTTPRequestHandler):
        def _page(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            page = b"<html><body>It works!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        do_GET = do_POST = do_DELETE = _page

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_implementation_answering_html_exits_3_saying_it_is_not_json(html_server: str, tmp_path: Path) -> None:
    process = run_command("--base-url", html_server, "--api-key", FIRST_KEY, *SMALL, cwd=tmp_path)
    assert process.returncode == 3, process.stdout + process.stderr
    assert "error: the implementation is unreachable: the answer (HTTP 200) is not JSON" in process.stderr
    assert "It works!" in process.stderr and "is this a CX Pay implementation?" in process.stderr
    _no_traceback(process)
