"""Fixtures for the model's tests: the real spec, loaded once."""

from __future__ import annotations

import pytest

from cxpay_conformance.spec import Spec, load_spec
from tests.spec_variants import REAL_SPEC


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec(REAL_SPEC)
