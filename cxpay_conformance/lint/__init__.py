"""The spec's model checker: every state one payment can reach, and what is wrong with them.

>>> from cxpay_conformance.spec import load_spec
>>> from cxpay_conformance.lint import lint_spec
>>> report = lint_spec(load_spec(), max_children=3)
>>> report.states, report.transitions, report.findings
(..., ..., ())

:func:`lint_spec` explores the model's abstract state space breadth-first
(:mod:`.explore`) and runs every registered check (:mod:`.checks`) over it. A finding names
its kind (:data:`KINDS`), the place in the spec to change, and, where it shows in some
states only, the shortest event path from creation that shows it.
"""

from __future__ import annotations

from cxpay_conformance.lint.checks import check, registered_checks
from cxpay_conformance.lint.engine import DEFAULT_CREATE_PARAMS, lint_spec
from cxpay_conformance.lint.findings import KINDS, Finding, FindingKind, LintReport, Step, story

__all__ = [
    "DEFAULT_CREATE_PARAMS",
    "KINDS",
    "Finding",
    "FindingKind",
    "LintReport",
    "Step",
    "check",
    "lint_spec",
    "registered_checks",
    "story",
]
