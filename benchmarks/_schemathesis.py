"""Schemathesis for the head-to-head: the pinned version, its installation, one run of it
against a server, and what its report says it found.

``head_to_head.py`` compares the suite with Schemathesis; this module is the Schemathesis
side, so that the comparison reads as a comparison. :func:`run_schemathesis` runs it the way
the head-to-head's docstring describes (every phase, every check, one worker, no shrinking,
no health checks, both merchants as Web Fuzzing Commons identities and peers) in a scratch
directory, and reads back its NDJSON report: each kind of failure as a :class:`Finding` of
fixed tokens only, never an id or a message, so that runs with other seeds and other servers
compare, with the seconds to its first report; the 2xx answers per operation; the requests
that got no answer; and what its stateful phase covered, from its console output. Which kinds
count as catches (the baseline from clean runs) is the comparison's business, not this one's.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec" / "openapi.yaml"

#: The Schemathesis this benchmark was written against (its options, its reports): CI's.
SCHEMATHESIS = "4.32.5"
PHASES = "examples,coverage,fuzzing,stateful"


def ensure_schemathesis() -> str:
    """The installed Schemathesis version; installs the pinned one when there is none."""
    try:
        return importlib.metadata.version("schemathesis")
    except importlib.metadata.PackageNotFoundError:
        print(f"installing schemathesis=={SCHEMATHESIS} ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"schemathesis=={SCHEMATHESIS}"],
                       check=True)
        return importlib.metadata.version("schemathesis")


@dataclass(frozen=True, order=True)
class Finding:
    """One kind of failure Schemathesis reported: fixed tokens only, never ids or messages."""

    check: str
    code: str
    operation: str
    status: int
    error_code: str

    @property
    def coarse(self) -> tuple[str, str, str, int]:
        """The kind without the answer's error code (Schemathesis's own grouping, roughly)."""
        return self.check, self.code, self.operation, self.status

    def show(self) -> str:
        operation = self.operation.replace("/test-helpers", "").replace("{id}", "…")
        answer = f"{self.status or '-'} {self.error_code}".strip()
        return f"{self.code} {self.check} on {operation} ({answer})"


@dataclass
class TheirRun:
    """One Schemathesis run: its exit code, wall time, every kind of failure with the seconds
    from the engine's start to its first report, and what its stateful phase did."""

    exit_code: int
    seconds: float
    findings: dict[Finding, float]
    stateful: str
    accepted: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def new(self, baseline: set[Finding]) -> dict[Finding, float]:
        return {f: at for f, at in self.findings.items() if f not in baseline}


def schemathesis_identities(workdir: Path, api_key: str, second_api_key: str) -> Path:
    """A config file naming both merchants as Web Fuzzing Commons identities and as peers."""
    identities = {"auth": [
        {"name": "merchant_a", "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {api_key}"}]},
        {"name": "merchant_b", "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {second_api_key}"}]},
    ]}
    (workdir / "identities.json").write_text(json.dumps(identities), encoding="utf-8")
    config = workdir / "schemathesis.toml"
    config.write_text('[auth.wfc]\npath = "identities.json"\npeers = ["merchant_a", "merchant_b"]\n',
                      encoding="utf-8")
    return config


def schemathesis_command(config: str, base_url: str, budget: int, seed: int, report: str) -> list[str]:
    return [sys.executable, "-m", "schemathesis.cli", "--config-file", config, "run", str(SPEC),
            "--url", base_url, "--phases", PHASES, "--checks", "all", "--max-time", str(budget),
            "--seed", str(seed), "--workers", "1", "--generation-database", "none", "--no-color",
            # From Schemathesis's benchmarking guide: no shrinking, no health checks. Not its
            # --continue-on-failure: here every POST fails on the correct server (the baseline),
            # and going on re-fuzzes those operations until the budget is spent: on the correct
            # server (25 s, seed 1) its stateful phase ran 203 scenarios over 9 links, not 379 over 15.
            "--no-shrink", "--suppress-health-check", "all",
            "--report", "ndjson", "--report-ndjson-path", report]


def run_schemathesis(base_url: str, api_key: str, second_api_key: str, budget: int, seed: int) -> TheirRun:
    """Schemathesis against ``base_url`` for ``budget`` seconds, read back from its NDJSON report."""
    with tempfile.TemporaryDirectory(prefix="h2h-st-") as scratch:
        workdir = Path(scratch)
        config = schemathesis_identities(workdir, api_key, second_api_key)
        report = workdir / "events.ndjson"
        command = schemathesis_command(str(config), base_url, budget, seed, str(report))
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=budget * 4 + 120)
        seconds = time.monotonic() - started
        if not report.exists():
            raise SystemExit(f"Schemathesis wrote no report (exit {result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        findings, accepted, errors = read_report(report)
    return TheirRun(result.returncode, seconds, findings, stateful_summary(result.stdout), accepted, errors)


def read_report(path: Path) -> tuple[dict[Finding, float], Counter[str], list[str]]:
    """Every kind of failure in an NDJSON report with when it was first reported, the 2xx
    answers per operation, and the errors (requests that got no answer)."""
    findings: dict[Finding, float] = {}
    accepted: Counter[str] = Counter()
    errors: list[str] = []
    started: float | None = None
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            (kind, data), = event.items()
            if kind == "EngineStarted":
                started = data["timestamp"]
            elif kind == "NonFatalError":
                errors.append(f"{data.get('label')}: {str(data.get('value'))[:120]}")
            elif kind == "ScenarioFinished":
                at = data["timestamp"] - (started or data["timestamp"])
                recorder = data["recorder"]
                interactions = recorder.get("interactions", {})
                for interaction in interactions.values():
                    response = interaction.get("response") or {}
                    if 200 <= response.get("status_code", 0) < 300:
                        request = interaction["request"]
                        accepted[f"{request['method']} {_path_of(request['uri'])}"] += 1
                for case_id, checks in recorder.get("checks", {}).items():
                    for check in checks:
                        if check["status"] != "failure" or not check.get("failure_info"):
                            continue
                        failure = check["failure_info"]["failure"]
                        response = (interactions.get(case_id) or {}).get("response") or {}
                        finding = Finding(check["name"], failure["code"], failure["operation"] or "",
                                          response.get("status_code", 0), _error_code(response))
                        findings.setdefault(finding, round(at, 1))
    return findings, accepted, errors


_ID = re.compile(r"/(?:cs|pi|ch|we|evt)_[A-Za-z0-9]+")


def _path_of(uri: str) -> str:
    path = "/" + uri.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
    return _ID.sub("/{id}", path)


def _error_code(response: dict[str, Any]) -> str:
    content = response.get("content") or {}
    try:
        body = json.loads(base64.b64decode(content.get("$base64", "")))
        return str(body["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def stateful_summary(stdout: str) -> str:
    """What Schemathesis printed of its stateful phase: scenarios run and links covered."""
    scenarios = re.search(r"Scenarios:\s+(\d+)", stdout)
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", stdout)
    if not scenarios or not links:
        return "no stateful phase reported"
    return f"{scenarios.group(1)} scenarios, {links.group(1)}/{links.group(2)} links"
