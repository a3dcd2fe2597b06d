"""Fixtures for the diagram and spec-document tests: the real spec, and a spec with one more
state, event, transition and effect (written to a temporary folder through PyYAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cxpay_conformance.spec import Spec, load_spec
from tests.diagrams.diagram_text import REAL_OPENAPI, REAL_SPEC


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec(REAL_SPEC)


def extended_spec_data() -> dict[str, Any]:
    """The real spec plus a charge state ``disputed``, a network event ``dispute`` that moves a
    succeeded charge there, and an effect of it that sends the payment intent to ``failed``."""
    data = yaml.safe_load(REAL_SPEC.read_text(encoding="utf-8"))
    data["openapi"] = str(REAL_OPENAPI)
    data["objects"]["charge"]["states"]["disputed"] = {
        "description": "The cardholder disputed the payment with their bank.",
        "emits": "charge.disputed",
    }
    data["events"]["dispute"] = {
        "actor": "network",
        "operation": "respondToCharge",
        "object": "charge",
        "rejection": "invalid_state",
        "description": "The card network reports a dispute.",
    }
    data["transitions"].append({
        "event": "dispute",
        "from": ["succeeded"],
        "to": "disputed",
        "effects": [{"set": "payment_intent", "from": ["succeeded"], "to": "failed"}],
    })
    return data


@pytest.fixture
def extended_spec_path(tmp_path: Path) -> Path:
    path = tmp_path / "spec" / "cxpay.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(extended_spec_data(), sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def extended_spec(extended_spec_path: Path) -> Spec:
    return load_spec(extended_spec_path)
