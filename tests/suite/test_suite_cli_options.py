"""`cxpay-conformance run --json -`: the result as JSON on stdout (as `lint --json` prints it),
everything else on stderr, so that stdout can be piped."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from cxpay_conformance.cli import main_group


def test_json_dash_prints_the_result_alone_on_stdout(tmp_path: Path) -> None:
    environment: dict[str, str | None] = {name: None for name in os.environ if name.startswith("CXPAY_")}
    result = CliRunner().invoke(main_group, ["run", "--seed", "11", "--max-examples", "2", "--max-steps", "6",
                                             "--no-database", "--report-dir", str(tmp_path), "--json", "-"],
                                env=environment)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conformant"] is True and report["seed"] == 11
    assert "CONFORMANT: every check passed." in result.stderr and "Coverage of the spec" in result.stderr
    assert not (Path.cwd() / "-").exists() and not (tmp_path / "-").exists()
