"""Fixtures for the loader's tests: break the real spec, load it, and see what is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.spec_variants import BreakSpec, Broken, Replacement, load_broken


@pytest.fixture
def break_spec(tmp_path: Path) -> BreakSpec:
    """``break_spec((old, new), ...)``: the real spec with these edits, and its problems."""

    def broken(*replacements: Replacement) -> Broken:
        return load_broken(tmp_path, *replacements)

    return broken
