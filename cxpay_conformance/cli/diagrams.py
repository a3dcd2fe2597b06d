"""`cxpay-conformance diagrams`: write the state diagrams of the spec, or check they are current."""

from __future__ import annotations

from pathlib import Path

import click

from cxpay_conformance.cli._common import EXIT_FINDINGS, reported_errors, spec_option
from cxpay_conformance.diagrams import check_diagrams, render_diagrams
from cxpay_conformance.spec import load_spec


@click.command()
@spec_option
@click.option("--out", "out_dir", default="diagrams", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The directory to write the diagrams into.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 listing the files that are missing or stale (for CI).")
def diagrams(spec_path: str | None, out_dir: Path, check: bool) -> None:
    """Draw one state diagram per object type, an overview, and diagrams.md.

    \b
    Writes <object>.dot and .svg, overview.dot and .svg (SVGs need Graphviz's `dot`), and
    diagrams.md with a Mermaid diagram per object type that GitHub renders.
    """
    with reported_errors():
        spec = load_spec(spec_path)
        if check:
            staleness = check_diagrams(spec, out_dir)
            if staleness.note:
                click.secho(f"note: {staleness.note}", fg="yellow", err=True)
            if not staleness.fresh:
                click.echo(f"stale (run `cxpay-conformance diagrams --out {out_dir}`):")
                for path in staleness.stale:
                    click.echo(f"  {path}")
                raise SystemExit(EXIT_FINDINGS)
            click.echo(f"the diagrams in {out_dir} are up to date")
            return
        written = render_diagrams(spec, out_dir)
        for path in written.paths:
            click.echo(f"wrote {path}")
        if written.note:
            click.secho(f"note: {written.note}", fg="yellow", err=True)
