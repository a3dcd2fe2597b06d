"""The conformance suite: Hypothesis stateful testing of any CX Pay implementation.

Use :func:`run_suite` with a :class:`SuiteConfig`; plug in an implementation of another
shape with an :class:`Adapter`. The checks are listed in :mod:`.checks`.
"""

from __future__ import annotations

from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY, Adapter, Exchange
from cxpay_conformance.suite.config import PROFILES, SuiteConfig
from cxpay_conformance.suite.context import SuiteContext
from cxpay_conformance.suite.http_adapter import HttpAdapter
from cxpay_conformance.suite.runner import SuiteResult, run_suite

__all__ = [
    "PROFILES",
    "USE_DEFAULT_KEY",
    "Adapter",
    "Exchange",
    "HttpAdapter",
    "SuiteConfig",
    "SuiteContext",
    "SuiteResult",
    "run_suite",
]
