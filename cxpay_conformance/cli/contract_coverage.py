"""`cxpay-conformance contract-coverage`: write docs/contract-coverage.md (every promise of the
contract and the check that verifies it), check it is current, or run the reference run again."""

from __future__ import annotations

from pathlib import Path

import click

from cxpay_conformance.cli._common import EXIT_FINDINGS, reported_errors
from cxpay_conformance.suite import promises as coverage


@click.command("contract-coverage")
@click.option("--out", "out_path", default=str(coverage.DEFAULT_PATH), show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The Markdown file to write.")
@click.option("--counts", "counts_path", default=str(coverage.DEFAULT_COUNTS), show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The reference run's counts (JSON).")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 if the file is missing or stale, or a promise has no check (for CI).")
@click.option("--reference-run", is_flag=True,
              help="Run the suite against the embedded reference server first (the ci profile, seed 1) "
              "and store its counts in --counts.")
def contract_coverage(out_path: Path, counts_path: Path, check: bool, reference_run: bool) -> None:
    """Write the table of the contract's promises, the check and step verifying each, and how
    often each ran in the reference run; a promise with no check is listed as a gap."""
    with reported_errors():
        promises = coverage.load_promises()
        if reference_run:
            from cxpay_conformance.embedded import embedded_server
            from cxpay_conformance.suite import SuiteConfig, run_suite

            with embedded_server() as server:
                result = run_suite(SuiteConfig.for_embedded(server, database=None, **coverage.REFERENCE))
            click.echo(f"reference run: {result.examples} examples, "
                       f"{'conformant' if result.conformant else 'NOT conformant'}")
            click.echo(f"wrote {coverage.counts_of(result).write(counts_path)}")
        run = coverage.ReferenceRun.read(counts_path)
        if check:
            problems = []
            if coverage.is_stale(promises, run, out_path):
                problems.append(f"{out_path} is stale (run `cxpay-conformance contract-coverage`)")
            problems += [f"gap: {p.id} has no check" for p in promises.gaps]
            if problems:
                click.echo("\n".join(problems))
                raise SystemExit(EXIT_FINDINGS)
            click.echo(f"{out_path} is up to date; every promise has a check")
            return
        click.echo(f"wrote {coverage.write(promises, run, out_path)}")
        gaps = promises.gaps
        if gaps:
            click.echo(f"{len(gaps)} promise(s) with no check: {', '.join(p.id for p in gaps)}")
