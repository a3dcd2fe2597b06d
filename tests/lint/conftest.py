"""Broken specs for the lint tests, each derived from the real spec/cxpay.yaml.

A test loads the real spec as plain data (:func:`spec_data`), breaks one thing, and writes
it to a temporary file whose ``openapi:`` still points at the real spec/openapi.yaml.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cxpay_conformance.lint import LintReport, lint_spec
from cxpay_conformance.spec import Spec, load_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "spec" / "cxpay.yaml"
OPENAPI_PATH = ROOT / "spec" / "openapi.yaml"

SpecData = dict[str, Any]


@pytest.fixture
def spec_data() -> SpecData:
    """The real spec as plain data, ready to break."""
    data: SpecData = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    data["openapi"] = str(OPENAPI_PATH)
    return data


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[SpecData], Path]:
    """Write spec data to a file in ``tmp_path`` and return its path."""

    def write(data: SpecData) -> Path:
        path = tmp_path / "cxpay.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def lint_data(write_spec: Callable[[SpecData], Path]) -> Callable[..., tuple[Spec, LintReport]]:
    """Write, load and lint spec data; return the loaded spec (for locations) and the report."""

    def lint(data: SpecData, **options: Any) -> tuple[Spec, LintReport]:
        spec = load_spec(write_spec(data))
        return spec, lint_spec(spec, **options)

    return lint

