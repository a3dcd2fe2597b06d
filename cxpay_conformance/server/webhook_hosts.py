"""Which hosts the sandbox delivers webhooks to: by default only loopback and private
addresses and the name ``localhost``, so that a sandbox a team shares cannot be made to send
requests anywhere on the internet (``serve --webhook-allow-host`` allows more).

A pattern is an IP network or address (``10.0.0.0/8``, ``203.0.113.7``) or a glob on the host
name (``hooks.shop.example``, ``*.shop.example``; ``*`` allows every host). A host name is
matched by its spelling and never resolved: a name the patterns do not allow is refused even
if it would resolve to a loopback address, and ``localhost`` is allowed by name.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Loopback, the private ranges of RFC 1918 and RFC 4193, link-local, and ``localhost``.
DEFAULT_WEBHOOK_HOSTS: tuple[str, ...] = (
    "localhost",
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
)

_NAME_GLOB = re.compile(r"[A-Za-z0-9*?][A-Za-z0-9.*?\-]*")


def check_host_pattern(pattern: str) -> None:
    """Raise ValueError unless ``pattern`` is an IP network or a host name glob."""
    if _network(pattern) is None and not _NAME_GLOB.fullmatch(pattern):
        raise ValueError(
            f"webhook host pattern {pattern!r} is neither an IP network (10.0.0.0/8) nor a "
            "host name, optionally with * (*.shop.example)"
        )


def host_allowed(url: str, patterns: Iterable[str]) -> bool:
    """True when ``url``'s host is one ``patterns`` allow (no name is resolved).

    >>> host_allowed("http://127.0.0.1:5000/hooks", DEFAULT_WEBHOOK_HOSTS)
    True
    >>> host_allowed("https://shop.example/hooks", DEFAULT_WEBHOOK_HOSTS)
    False
    >>> host_allowed("https://hooks.shop.example/x", ("*.shop.example",))
    True
    """
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if not host:
        return False
    address = _address(host)
    for pattern in patterns:
        network = _network(pattern)
        if network is None:
            if fnmatch.fnmatchcase(host, pattern.lower()):
                return True
        elif address is not None and address.version == network.version and address in network:
            return True
    return False


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name (or an odd spelling such as 2130706433, matched as a name)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:8.8.8.8 is 8.8.8.8
    return address


def _network(pattern: str) -> IpNetwork | None:
    try:
        return ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return None
