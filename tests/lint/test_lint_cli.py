"""`cxpay-conformance lint`: exit codes, the printed report, JSON, and spec errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cxpay_conformance.cli import main_group


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main_group, ["lint", *args])


def test_the_real_spec_exits_0() -> None:
    result = invoke()
    assert result.exit_code == 0, result.output
    assert re.search(r"\d+ reachable states, \d+ transitions explored", result.output)
    assert "clean" in result.output


def test_a_broken_spec_exits_1_with_its_findings(
    spec_data: dict[str, Any], write_spec: Callable[[dict[str, Any]], Path]
) -> None:
    spec_data["objects"]["charge"]["states"]["disputed"] = {"description": "Nobody goes here."}
    path = write_spec(spec_data)
    result = invoke(str(path))
    assert result.exit_code == 1, result.output
    assert "1 finding" in result.output
    assert "unreachable-state" in result.output
    assert re.search(re.escape(str(path)) + r":\d+:\d+", result.output)


def test_json_lists_the_findings(
    spec_data: dict[str, Any], write_spec: Callable[[dict[str, Any]], Path]
) -> None:
    for t in spec_data["transitions"]:
        if t["event"] == "network_response" and t.get("guard") == {"card.network": "approve"}:
            t["effects"][1]["to"] = "expired"
    result = invoke(str(write_spec(spec_data)), "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    broken = {f["invariant"]: f for f in report["findings"] if f["kind"] == "invariant-broken"}
    assert broken["complete_iff_succeeded"]["path"] == (
        "create_session -> pay(card_number=4242424242424242) -> network_response"
    )
    assert report["states"] > 0 and report["max_children"] == 3


def test_max_children_bounds_the_exploration() -> None:
    small = json.loads(invoke("--json", "--max-children", "1").stdout)
    large = json.loads(invoke("--json", "--max-children", "2").stdout)
    assert 0 < small["states"] < large["states"]
    assert invoke("--max-children", "-1").exit_code == 2


def test_a_yaml_syntax_error_exits_2_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("format: cxpay-spec/1\ntitle: [CX Pay\nversion: '1.0'\n", encoding="utf-8")
    result = invoke(str(path))
    assert result.exit_code == 2, result.output
    assert re.search(re.escape(str(path)) + r":\d+:\d+: this is not valid YAML", result.output)
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_a_missing_spec_exits_2(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "nowhere.yaml"))
    assert result.exit_code == 2
    assert "does not exist" in result.output
