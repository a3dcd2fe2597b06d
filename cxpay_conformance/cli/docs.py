"""`cxpay-conformance docs`: write docs/spec.md from the spec, or check it is current."""

from __future__ import annotations

from pathlib import Path

import click

from cxpay_conformance.cli._common import EXIT_FINDINGS, reported_errors, spec_option
from cxpay_conformance.spec import load_spec
from cxpay_conformance.specdoc import DEFAULT_PATH, spec_doc_is_stale, write_spec_doc


@click.command()
@spec_option
@click.option("--out", "out_path", default=str(DEFAULT_PATH), show_default=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The Markdown file to write.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 if the file is missing or stale (for CI).")
def docs(spec_path: str | None, out_path: Path, check: bool) -> None:
    """Write the spec as Markdown: states, events, transitions, answers, decisions."""
    with reported_errors():
        spec = load_spec(spec_path)
        if check:
            if spec_doc_is_stale(spec, out_path):
                click.echo(f"stale (run `cxpay-conformance docs --out {out_path}`):")
                click.echo(f"  {out_path}")
                raise SystemExit(EXIT_FINDINGS)
            click.echo(f"{out_path} is up to date")
            return
        click.echo(f"wrote {write_spec_doc(spec, out_path)}")
