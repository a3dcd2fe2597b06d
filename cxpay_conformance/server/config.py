"""What a sandbox is started with: its merchants' API keys, where it keeps state, and how it
retries webhooks.

:class:`ServerConfig` is the one value every part of the server reads its settings from; it is
frozen so that a running server cannot drift from what it printed at start. The command line
(``cxpay-conformance serve``) and :func:`~cxpay_conformance.server.runner.run_in_thread` build
one; tests build their own with short webhook delays.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from cxpay_conformance.server.faults import FAULTS
from cxpay_conformance.server.webhook_hosts import DEFAULT_WEBHOOK_HOSTS, check_host_pattern

#: The two merchants every sandbox knows unless told otherwise, so that tenant isolation can be
#: tried at once. The keys are printed at start and written in docs/sandbox.md: they are test
#: keys, not secrets.
DEFAULT_API_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "sk_test_cxpay_merchant_a_0000000000000001": "acct_merchant_a",
        "sk_test_cxpay_merchant_b_0000000000000002": "acct_merchant_b",
    }
)

#: The deliberately injected bugs a sandbox can be started with (``--fault NAME``) so that the
#: conformance suite can prove it catches them (the catalogue: :mod:`.faults`). The server's
#: code consults ``ServerConfig.faults`` at the decision a fault corrupts.
KNOWN_FAULTS: frozenset[str] = frozenset(FAULTS)

DEFAULT_BODY_LIMIT = 64 * 1024
#: Seconds a client has to send a whole request body once the headers arrived: 64 KiB in 30 s
#: is slower than any real link, and a client that stalls does not hold a request open forever.
DEFAULT_BODY_TIMEOUT = 30.0

_API_KEY_SHAPE = re.compile(r"[A-Za-z0-9_\-.]{8,255}")


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """How deliveries are retried: at most ``max_attempts`` tries, waiting ``base_delay`` seconds
    after the first failure and twice as long after each further one, never more than
    ``max_delay``; each try gives the receiver ``timeout`` seconds to answer. Endpoints may
    only be on the hosts ``allowed_hosts`` match (:mod:`.webhook_hosts`; by default loopback
    and private addresses and ``localhost``).

    >>> WebhookPolicy(base_delay=1.0, max_delay=5.0).delay_after(3)
    4.0
    """

    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 60.0
    timeout: float = 10.0
    allowed_hosts: tuple[str, ...] = DEFAULT_WEBHOOK_HOSTS

    def __post_init__(self) -> None:
        for pattern in self.allowed_hosts:
            check_host_pattern(pattern)
        if self.max_attempts < 1:
            raise ValueError("webhook max_attempts must be at least 1")
        if self.base_delay <= 0 or self.max_delay < self.base_delay:
            raise ValueError("webhook delays must satisfy 0 < base_delay <= max_delay")
        if self.timeout <= 0:
            raise ValueError("webhook timeout must be positive")

    def delay_after(self, failed_attempts: int) -> float:
        """Seconds to wait before the next try, after ``failed_attempts`` failed tries (>= 1)."""
        exponent = min(max(failed_attempts - 1, 0), 62)
        return float(min(self.base_delay * (2**exponent), self.max_delay))


def unknown_faults_message(unknown: Iterable[str]) -> str:
    """What to say about fault names not in the catalogue, with the nearest known names."""
    names = sorted(unknown)
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, sorted(KNOWN_FAULTS), n=1)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    return (
        f"unknown fault{'s' if len(names) > 1 else ''} {', '.join(hints)}; "
        "list the known ones with: cxpay-conformance serve --list-faults"
    )


def merchant_id_for_key(api_key: str) -> str:
    """A stable merchant id for an API key given on the command line.

    Derived from the key itself, so that restarting on the same ``--db`` with the keys in another
    order keeps each merchant's objects with its key.
    """
    return "acct_" + hashlib.sha256(api_key.encode()).hexdigest()[:20]


def check_api_key(api_key: str) -> None:
    """Raise ValueError unless ``api_key`` looks like a key a client can send in a header."""
    if not _API_KEY_SHAPE.fullmatch(api_key):
        raise ValueError(
            f"API key {api_key!r} is not usable: use 8-255 characters from A-Z a-z 0-9 _ - . "
            "(for example sk_test_mykey_0001)"
        )


def check_public_url(url: str) -> None:
    """Raise ValueError unless ``url`` can prefix the hosted pages' addresses."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError as exc:
        raise ValueError(f"public URL {url!r} cannot be parsed: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"public URL {url!r} must be an http or https URL with a host and no query, such as "
            "https://sandbox.shop.example or http://192.168.1.20:8000"
        )


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything a sandbox is started with.

    >>> config = ServerConfig(db_path="sandbox.sqlite3")
    >>> sorted(config.api_keys.values())
    ['acct_merchant_a', 'acct_merchant_b']

    ``api_keys`` maps each secret key to the merchant that owns it; ``db_path`` is a SQLite file
    that keeps state across restarts (``None``: memory only); ``body_limit`` is the largest
    request body accepted, in bytes, and ``body_timeout`` the seconds a client has to send it;
    ``public_url`` is where clients reach the sandbox, for the sessions' hosted pages (``None``:
    the address each request reached);
    ``faults`` names injected bugs (see :data:`KNOWN_FAULTS`);
    ``log_requests`` logs one line per request on the ``cxpay_conformance.server`` logger;
    ``trace_path`` is a file the sandbox writes a trace of its traffic to (:mod:`.trace_log`).
    """

    api_keys: Mapping[str, str] = field(default_factory=lambda: DEFAULT_API_KEYS)
    db_path: str | None = None
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)
    body_limit: int = DEFAULT_BODY_LIMIT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    public_url: str | None = None
    faults: frozenset[str] = frozenset()
    log_requests: bool = False
    #: A file to write a trace of every request and webhook to (``serve --record``), or None.
    trace_path: str | None = None

    def __post_init__(self) -> None:
        if not self.api_keys:
            raise ValueError("a sandbox needs at least one API key")
        for key in self.api_keys:
            check_api_key(key)
        if self.body_limit < 1024:
            raise ValueError("body_limit must be at least 1024 bytes")
        if self.body_timeout <= 0:
            raise ValueError("body_timeout must be positive")
        if self.public_url is not None:
            check_public_url(self.public_url)
            object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        unknown = self.faults - KNOWN_FAULTS
        if unknown:
            raise ValueError(unknown_faults_message(unknown))
        # A frozen, read-only copy: the caller's dict may change, the config may not.
        object.__setattr__(self, "api_keys", MappingProxyType(dict(self.api_keys)))

    def merchant_for(self, api_key: str) -> str | None:
        """The merchant owning ``api_key``, or None when no merchant does."""
        return self.api_keys.get(api_key)
