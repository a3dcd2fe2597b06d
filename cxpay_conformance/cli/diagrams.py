"""`cxpay-conformance diagrams`: placeholder until its engine lands."""

from __future__ import annotations

import click


@click.command()
def diagrams() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
