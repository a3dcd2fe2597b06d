"""cxpay_conformance: the formal CX Pay spec, its executable model, a state-aware conformance
suite for any CX Pay implementation, and a stateful test-mode sandbox.

The public surface is re-exported here; everything else is internal.
"""

from __future__ import annotations

from cxpay_conformance.errors import (
    ConformanceFailure,
    CXPayError,
    ImplementationUnreachable,
    SpecError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "CXPayError",
    "ConformanceFailure",
    "ImplementationUnreachable",
    "SpecError",
    "UsageError",
    "__version__",
]
