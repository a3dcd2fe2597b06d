"""How the sandbox writes JSON: compact and in ASCII, so that any string a client sent (even a
lone surrogate) can be echoed back.

One function, used by the HTTP answers and by the service, which encodes each answer before it
commits the change the answer reports: a change whose answer cannot be written is never kept.
"""

from __future__ import annotations

import json
from typing import Any


def encode(content: Any) -> bytes:
    """``content`` as the bytes of an answer body. Raises ValueError or TypeError when it
    cannot be written as JSON (an integer beyond Python's digit limit, a foreign object).

    >>> encode({"now": 1})
    b'{"now":1}'
    """
    return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()
