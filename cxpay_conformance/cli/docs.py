"""`cxpay-conformance docs`: placeholder until its engine lands."""

from __future__ import annotations

import click


@click.command()
def docs() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
