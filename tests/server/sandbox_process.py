"""Running ``cxpay-conformance serve`` as a child process, the way a merchant runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on (http://\S+)")


class SandboxProcess:
    """``serve`` in a child process; ``base_url`` once it listens."""

    def __init__(self, *options: str, log: Path | None = None) -> None:
        """``log``: a file for the sandbox's stderr instead of a pipe, for a sandbox that logs
        more than a pipe holds (a full pipe blocks the sandbox at its next log line)."""
        command = [
            sys.executable,
            "-c",
            "from cxpay_conformance.cli import main; main()",
            "serve",
            "--port",
            "0",
            *options,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.log = log
        log_file = None if log is None else log.open("w")
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if log_file is None else log_file,
            text=True,
            env=env,
            cwd=ROOT,
        )
        if log_file is not None:
            log_file.close()  # the child has its own copy
        self.banner: list[str] = []
        self.base_url = self._wait_for_banner()

    def _wait_for_banner(self) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.banner.append(line)
            found = _LISTENING.search(line)
            if found:
                self._wait_until_answering(found.group(1))
                return found.group(1)
        raise AssertionError(f"serve never listened: {self.banner} {self.stderr()}")

    def _wait_until_answering(self, base_url: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base_url + "/events", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("serve printed its banner but does not answer")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flushing, nothing."""
        self.process.kill()
        self.process.wait(timeout=30)

    def stderr(self) -> str:
        if self.process.poll() is None:
            return ""
        if self.log is not None:
            return self.log.read_text()
        assert self.process.stderr is not None
        return self.process.stderr.read()
