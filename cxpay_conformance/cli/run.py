"""`cxpay-conformance run`: placeholder until its engine lands."""

from __future__ import annotations

import click


@click.command()
def run() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
