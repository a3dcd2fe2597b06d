"""`cxpay-conformance lint` on a broken spec: exit 2, file:line:column, and never a traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cxpay_conformance.cli import main_group
from tests.spec_variants import position, write_variant


def test_lint_of_a_broken_spec_exits_2_with_the_place(tmp_path: Path) -> None:
    path = write_variant(
        tmp_path,
        ("  - event: settlement\n", "  - event: settlment\n"),
        ("emits: charge.settled\n", "emits: payout.settled\n"),
    )
    text = path.read_text(encoding="utf-8")

    result = CliRunner().invoke(main_group, ["lint", str(path)])

    assert result.exit_code == 2, result.output
    for marker in ("event: settlment", "emits: payout.settled"):
        line, column = position(text, marker)
        assert f"{path}:{line}:{column}" in result.output
    assert "did you mean 'settlement'?" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped error


def test_lint_of_a_spec_with_a_yaml_error_exits_2(tmp_path: Path) -> None:
    path = write_variant(
        tmp_path,
        (
            "    from: [requires_action]\n    guard: {outcome: pass}\n",
            "    from: [requires_action\n    guard: {outcome: pass}\n",
        ),
    )
    text = path.read_text(encoding="utf-8")

    result = CliRunner().invoke(main_group, ["lint", str(path)])

    assert result.exit_code == 2, result.output
    line, _ = position(text, "    guard: {outcome: pass}")
    assert f"{path}:{line}:" in result.output
    assert "not valid YAML" in result.output
    assert "Traceback" not in result.output


def test_lint_of_a_missing_spec_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"

    result = CliRunner().invoke(main_group, ["lint", str(missing)])

    assert result.exit_code == 2, result.output
    assert f"{missing}:1:1" in result.output
    assert "Traceback" not in result.output
