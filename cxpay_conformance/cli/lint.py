"""`cxpay-conformance lint`: placeholder until its engine lands."""

from __future__ import annotations

import click


@click.command()
def lint() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
