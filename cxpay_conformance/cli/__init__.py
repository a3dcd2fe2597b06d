"""The ``cxpay-conformance`` command line: one click group, one module per command.

Commands parse options, call an engine, print its result and choose the exit code. They hold
no logic of their own. Exit codes: 0 fine, 1 findings or non-conformance, 2 usage or spec
error, 3 implementation unreachable. No command ever shows a traceback for a
:class:`~cxpay_conformance.errors.CXPayError`.
"""

from __future__ import annotations

import click

from cxpay_conformance.cli._common import main_group
from cxpay_conformance.cli.check_trace import check_trace
from cxpay_conformance.cli.contract_coverage import contract_coverage
from cxpay_conformance.cli.diagrams import diagrams
from cxpay_conformance.cli.docs import docs
from cxpay_conformance.cli.lint import lint
from cxpay_conformance.cli.run import run
from cxpay_conformance.cli.selftest import selftest
from cxpay_conformance.cli.serve import serve

main_group.add_command(lint)
main_group.add_command(diagrams)
main_group.add_command(docs)
main_group.add_command(contract_coverage)
main_group.add_command(serve)
main_group.add_command(run)
main_group.add_command(selftest)
main_group.add_command(check_trace)


def main() -> None:
    """The console script's entry point."""
    main_group(prog_name="cxpay-conformance")


__all__ = ["main", "main_group"]
_ = click  # re-exported for command modules' type checks
