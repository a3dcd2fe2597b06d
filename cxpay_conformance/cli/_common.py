"""What every command shares: the click group, error reporting and exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from cxpay_conformance.errors import (
    CXPayError,
    ImplementationUnreachable,
    SpecError,
    UsageError,
)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cxpay-conformance")
def main_group() -> None:
    """The CX Pay formal spec, its conformance suite and a test-mode sandbox.

    \b
    Start with:
      cxpay-conformance run          the suite against the embedded reference server
      cxpay-conformance lint         model-check spec/cxpay.yaml
      cxpay-conformance diagrams     write the state diagrams
      cxpay-conformance serve        run the sandbox for your integration
    """


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``message`` to stderr in red and exit with ``code``, without a traceback."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn our exceptions into a message on stderr and the documented exit code."""
    try:
        yield
    except SpecError as exc:
        fail(str(exc), EXIT_USAGE)
    except UsageError as exc:
        fail(str(exc), EXIT_USAGE)
    except ImplementationUnreachable as exc:
        fail(f"the implementation is unreachable: {exc}", EXIT_UNREACHABLE)
    except CXPayError as exc:
        fail(str(exc), EXIT_FINDINGS)


SPEC_ARGUMENT_HELP = "The spec file (default: the spec/cxpay.yaml that ships with this package)."


def spec_option(func: Callable[..., None]) -> Callable[..., None]:
    """The spec every spec-reading command takes: ``--spec PATH`` as ``run`` spells it, or the
    ``[SPEC]`` argument that earlier versions took (still accepted; not both at once).

    >>> @click.command()
    ... @spec_option
    ... def lint(spec_path: str | None) -> None: ...
    """

    @functools.wraps(func)
    def command(*args: Any, spec_path: str | None, spec_argument: str | None, **kwargs: Any) -> None:
        if spec_path is not None and spec_argument is not None:
            raise click.UsageError(
                f"the spec is given twice ({spec_argument} and --spec {spec_path}): give it once, as --spec PATH"
            )
        func(*args, spec_path=spec_path if spec_path is not None else spec_argument, **kwargs)

    command = click.option(
        "--spec", "spec_path", metavar="PATH", type=click.Path(dir_okay=False, path_type=str), help=SPEC_ARGUMENT_HELP
    )(command)
    return click.argument(
        "spec_argument",
        metavar="[SPEC]",
        required=False,
        type=click.Path(dir_okay=False, path_type=str),
    )(command)
