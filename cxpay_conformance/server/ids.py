"""Object ids: a type prefix and 24 random letters and digits.

The contract asks for a prefix plus at least 16 URL-safe random characters; letters and digits
only keep ids safe in paths, query strings, logs and shell commands without quoting.
"""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 24

CHECKOUT_SESSION = "cs_"
PAYMENT_INTENT = "pi_"
CHARGE = "ch_"
EVENT = "evt_"
WEBHOOK_ENDPOINT = "we_"
WEBHOOK_SECRET = "whsec_"
DELIVERY = "dlv_"


def new_id(prefix: str) -> str:
    """A fresh id with ``prefix``, e.g. ``new_id(CHARGE)`` -> ``'ch_3Zq...'`` (24 random chars)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
