"""`cxpay-conformance lint`: model-check the spec and print what is wrong with it."""

from __future__ import annotations

import json
import sys
import time

import click
from rich.console import Console
from rich.text import Text

from cxpay_conformance.cli._common import EXIT_FINDINGS, EXIT_OK, reported_errors, spec_option
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
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def lint(spec_path: str | None, max_children: int, as_json: bool) -> None:
    """Model-check SPEC: explore every state one payment can reach, and report problems.

    \b
    Exit codes: 0 no findings, 1 findings, 2 the spec does not load.
    Finding kinds: unreachable-state, dead-end, nondeterminism, never-enabled,
    terminal-exit, invariant-broken, guard-gap.
    """
    with reported_errors():
        spec = load_spec(spec_path)
        started = time.perf_counter()
        report = lint_spec(spec, max_children=max_children)
        seconds = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "seconds": round(seconds, 3)}, indent=2))
    else:
        _print(report, seconds)
    sys.exit(EXIT_FINDINGS if report.findings else EXIT_OK)


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
