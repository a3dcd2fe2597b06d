"""`cxpay-conformance lint`: model-check the spec and print what is wrong with it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from cxpay_conformance.cli._common import EXIT_FINDINGS, EXIT_OK, reported_errors, spec_option
from cxpay_conformance.errors import UsageError
from cxpay_conformance.lint import LintReport, lint_spec
from cxpay_conformance.spec import load_spec


@click.command()
@spec_option
@click.option(
    "--max-children",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="The most objects one object may make through a many-link (retries: charges).",
)
@click.option(
    "--json",
    "json_path",
    is_flag=False,
    flag_value="-",
    metavar="[PATH]",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=str),
    help="Write the report as JSON to PATH (as `run --json PATH` does); alone or with -, print it on stdout.",
)
def lint(spec_path: str | None, max_children: int, json_path: str | None) -> None:
    """Model-check the spec: explore every state one payment can reach, and report problems.

    \b
    Exit codes: 0 no findings, 1 findings, 2 the spec does not load.
    Finding kinds: unreachable-state, dead-end, nondeterminism, never-enabled,
    terminal-exit, invariant-broken, guard-gap.
    """
    if json_path is not None and json_path.endswith(SPEC_SUFFIXES):
        # Before --json took a path, `lint --json spec.yaml` meant the spec: keep meaning that,
        # rather than write JSON over the spec.
        if spec_path is not None:
            raise click.BadParameter(f"{json_path} is a YAML file; write the JSON report to a .json path or to -",
                                     param_hint="--json")
        spec_path, json_path = json_path, "-"
    with reported_errors():
        spec = load_spec(spec_path)
        started = time.perf_counter()
        report = lint_spec(spec, max_children=max_children)
        seconds = time.perf_counter() - started
        if json_path is not None:
            text = json.dumps({**report.as_dict(), "seconds": round(seconds, 3)}, indent=2)
            if json_path == "-":
                click.echo(text)
            else:
                _write(Path(json_path), text + "\n")
                _print(report, seconds)
                click.echo(f"JSON report: {json_path}")
        else:
            _print(report, seconds)
    sys.exit(EXIT_FINDINGS if report.findings else EXIT_OK)


SPEC_SUFFIXES = (".yaml", ".yml")


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the JSON report to {path}: {exc.strerror or exc}; "
                         "give --json a path in a directory that exists and can be written") from None


def _print(report: LintReport, seconds: float) -> None:
    console = Console(highlight=False, soft_wrap=True)
    count = len(report.findings)
    verdict = (
        (f"{count} finding{'s' if count != 1 else ''}", "bold red") if count
        else ("clean", "bold green")
    )
    summary = Text.assemble(
        (report.spec, "bold"),
        f": {report.states} reachable states, {report.transitions} transitions explored "
        f"in {seconds:.2f}s (at most {report.max_children} children per many-link; "
        f"{report.pruned} events beyond it not explored): ",
        verdict,
    )
    console.print(summary)
    for finding in report.findings:
        console.print(Text.assemble(
            "\n", (finding.kind, "bold red"), " ", (str(finding.location), "cyan"), "\n  ",
            finding.message,
        ))
        if finding.story is not None:
            console.print(Text.assemble("  path: ", (finding.story, "yellow")))
        if finding.related:
            console.print(Text("  see also: " + ", ".join(map(str, finding.related))))
        if finding.hint:
            console.print(Text("  hint: " + finding.hint, style="dim"))
