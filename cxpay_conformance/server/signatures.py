"""The ``CXPay-Signature`` header of webhook deliveries: Stripe's scheme, so that any
Stripe-style verifier works.

``t=<Unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``, keyed by the endpoint's whole
``whsec_...`` secret as UTF-8. ``t`` is real time, not the test clock, so that receivers can
refuse stale deliveries; each attempt is signed afresh.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "CXPay-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed by ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The header value, e.g. ``t=1767225600,v1=5257a8...``."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
