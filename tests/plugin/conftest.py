"""Fixtures for the pytest plugin's tests: pytester, and a faulty implementation on loopback.

pytester is registered from ``pytest_configure`` (a historic hook, so it also runs when pytest
finds this conftest during collection) rather than with ``pytest_plugins``: pytest refuses
``pytest_plugins`` in a conftest below the rootdir when a plain ``pytest`` run (testpaths) loads
it late, which would break the whole test run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

# Imported here, before any in-process pytester run. pytester forgets the modules a run imported
# first, and some cannot be imported afresh in the same process: PyYAML next to its C extension
# (still loaded) parses nothing any more, and httpx no longer recognises the errors of a new
# httpcore (a refused connection escapes as httpcore.ConnectError).
import httpcore  # noqa: F401
import pytest
import yaml  # noqa: F401

import cxpay_conformance._pytest_support  # noqa: F401
from tests.suite.faulty import Running, serve, variant

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture
def in_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Child pytest processes import the plugin and the package from this checkout, whatever
    else is installed, and see none of the keys of the environment the tests run in."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for name in ("CXPAY_API_KEY", "CXPAY_SECOND_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_created() -> Iterator[Running]:
    """An implementation whose reads lack `created` (caught by the openapi check at once)."""
    with serve(variant("openapi")) as running:
        yield running
