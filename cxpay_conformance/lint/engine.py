"""The lint's entry point: explore a spec's payment, run every registered check, report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cxpay_conformance.errors import Location, UsageError
from cxpay_conformance.lint.checks import registered_checks
from cxpay_conformance.lint.explore import explore
from cxpay_conformance.lint.findings import KINDS, Finding, LintReport
from cxpay_conformance.spec import Spec

#: The request parameters of the creating event, besides its defaults and guard choices.
#: Values do not matter to the state space; they only have to be valid.
DEFAULT_CREATE_PARAMS: Mapping[str, Any] = {"amount": 1, "currency": "usd"}


def lint_spec(
    spec: Spec,
    *,
    max_children: int = 3,
    create_params: Mapping[str, Any] | None = None,
) -> LintReport:
    """Model-check ``spec``: explore every state one payment can reach, and report problems.

    >>> report = lint_spec(load_spec())
    >>> report.states > 0, report.findings
    (True, ())

    ``max_children`` bounds the objects made through a many-link (retries: charges); an
    event that would make more is not explored. ``create_params`` are the creating event's
    request parameters (default :data:`DEFAULT_CREATE_PARAMS`).
    """
    if max_children < 0:
        raise UsageError(f"max_children must be 0 or more, not {max_children}")
    exploration = explore(
        spec,
        max_children=max_children,
        create_params=DEFAULT_CREATE_PARAMS if create_params is None else create_params,
    )
    findings = [finding for check in registered_checks() for finding in check(exploration)]
    findings.sort(key=_order)
    return LintReport(
        spec=spec.path,
        states=len(exploration.states),
        transitions=exploration.transitions,
        pruned=exploration.pruned,
        max_children=max_children,
        findings=tuple(findings),
    )


def _order(finding: Finding) -> tuple[int, str, int, int, str]:
    where: Location = finding.location
    return (KINDS.index(finding.kind), where.file, where.line, where.column, finding.message)
