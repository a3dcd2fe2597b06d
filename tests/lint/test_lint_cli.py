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


def test_the_spec_is_given_with_spec_as_run_takes_it_or_as_the_argument(
    spec_data: dict[str, Any], write_spec: Callable[[dict[str, Any]], Path]
) -> None:
    spec_data["objects"]["charge"]["states"]["disputed"] = {"description": "Nobody goes here."}
    path = str(write_spec(spec_data))
    for args in (("--spec", path), (path,)):
        result = invoke(*args)
        assert result.exit_code == 1, result.output
        assert "unreachable-state" in result.output
    both = invoke(path, "--spec", path)
    assert both.exit_code == 2
    assert "the spec is given twice" in both.output and "give it once, as --spec PATH" in both.output
    assert "Traceback" not in both.output


def test_json_with_a_path_writes_the_report_there_as_run_does(tmp_path: Path) -> None:
    out = tmp_path / "lint.json"
    result = invoke("--json", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["findings"] == []
    assert "clean" in result.stdout and f"JSON report: {out}" in result.stdout
    # Bare --json, and --json -, print it on stdout as before, whatever follows.
    for args in (("--json",), ("--json", "-"), ("--json", "--max-children", "1")):
        printed = invoke(*args)
        assert printed.exit_code == 0, (args, printed.output)
        assert json.loads(printed.stdout)["findings"] == []


def test_json_before_the_spec_argument_still_reads_the_spec(
    spec_data: dict[str, Any], write_spec: Callable[[dict[str, Any]], Path]
) -> None:
    """`lint --json spec.yaml`, the spelling from before --json took a path, must neither
    write JSON over the spec nor lint another one."""
    spec_data["objects"]["charge"]["states"]["disputed"] = {"description": "Nobody goes here."}
    path = write_spec(spec_data)
    before = path.read_bytes()
    result = invoke("--json", str(path))
    assert result.exit_code == 1, result.output
    assert [f["kind"] for f in json.loads(result.stdout)["findings"]] == ["unreachable-state"]
    assert path.read_bytes() == before
    twice = invoke("--json", str(path), str(path))
    assert twice.exit_code == 2 and "write the JSON report to a .json path or to -" in twice.output
    assert path.read_bytes() == before


def test_an_unwritable_json_path_exits_2_without_a_traceback(tmp_path: Path) -> None:
    result = invoke("--json", str(tmp_path / "missing" / "lint.json"))
    assert result.exit_code == 2
    assert f"cannot write the JSON report to {tmp_path / 'missing' / 'lint.json'}" in result.stderr
    assert "Traceback" not in result.output
