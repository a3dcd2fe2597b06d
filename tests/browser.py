"""The system's Chromium, driven by Playwright, for the tests that need a real browser (the HTML
report's, and the HAR check-trace reads). Playwright never downloads a browser here: .ci/run
installs Debian's ``chromium``. Without it a test skips, except when CI is set: then it fails."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

#: How long a browser may take to start, load or answer, on a loaded CI machine.
WAIT_MS = 60_000


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI is set, so the browser tests must run: .ci/run installs Debian's chromium)")
    pytest.skip(what)


@contextmanager
def system_chromium() -> Iterator[Any]:
    """A launched headless Chromium (Playwright's ``Browser``), closed on exit."""
    chromium = shutil.which("chromium")
    if chromium is None:
        _missing("no chromium on PATH: install Debian's `chromium` package (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, timeout=WAIT_MS)
        try:
            yield browser
        finally:
            browser.close()
