"""Where Hypothesis keeps the failing examples a run found, so that the next run tries them first.

A run's ``--example-db`` is one of: a folder (Hypothesis's ``DirectoryBasedExampleDatabase``;
the default, ``.hypothesis/cxpay``, is one), ``redis://HOST:PORT/N`` (Hypothesis's
``RedisExampleDatabase``, which every worker, shard and CI job pointed at the same Redis
shares, so that a failure any of them found replays first in all of them), or ``none``. A
failing example is saved when it fails and tried before anything new in every later run,
whatever its seed, for as long as it still fails (Redis forgets an entry nobody read for
eight days). The ``redis`` client is an optional extra: ``pip install 'cxpay-conformance[redis]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from cxpay_conformance.errors import UsageError

#: The default: a folder under the working directory.
DEFAULT = ".hypothesis/cxpay"
#: What ``--example-db`` takes for no database.
NONE = "none"
#: Our keys in a shared Redis, apart from any other Hypothesis project's.
REDIS_PREFIX = b"cxpay-conformance:"

_INSTALL = "pip install 'cxpay-conformance[redis]'"


def is_redis(where: str | None) -> bool:
    return bool(where) and str(where).startswith(("redis://", "rediss://", "unix://"))


def parse(value: str | None) -> str | None:
    """What an ``--example-db`` value means in :attr:`SuiteConfig.database`: None for ``none``.

    >>> parse("none") is None, parse("redis://127.0.0.1:6379/0")
    (True, 'redis://127.0.0.1:6379/0')
    """
    if value is None or value.strip().lower() in (NONE, ""):
        return None
    return value.strip()


def problems(where: str | None, option: str) -> list[str]:
    """What is wrong with ``where`` before a run (no network: :func:`check_reachable` asks Redis)."""
    if where is None:
        return []
    if not is_redis(where):
        folder = Path(where)
        if folder.exists() and not folder.is_dir():
            return [f"{option} {where}: not a folder; give a folder, redis://HOST:PORT/N or none"]
        return []
    try:
        import redis  # noqa: F401  (an optional extra)
    except ImportError:
        return [f"{option} {where} needs the redis client, which is not installed: {_INSTALL}"]
    parts = urlsplit(where)
    try:
        number = parts.path.strip("/") or "0"
        port = parts.port
    except ValueError:
        return [f"{option} {where}: the port is not a number; the form is redis://HOST:PORT/N"]
    if parts.scheme != "unix" and not parts.hostname:
        return [f"{option} {where}: no host; the form is redis://HOST:PORT/N"]
    if port is not None and not 0 < port < 65536:
        return [f"{option} {where}: port {port} is out of range; the form is redis://HOST:PORT/N"]
    if parts.scheme != "unix" and not number.isdigit():
        return [f"{option} {where}: the database number {number!r} is not a number; the form is redis://HOST:PORT/N"]
    return []


def check_reachable(where: str | None, option: str) -> None:
    """Ask a Redis ``where`` once whether it answers; :class:`UsageError` saying so when not."""
    if not is_redis(where):
        return
    import redis

    client = redis.Redis.from_url(str(where), socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise UsageError(f"{option} {where}: Redis does not answer ({type(exc).__name__}: {exc}); "
                         "start redis-server there, or give another database (a folder, or none)") from None
    finally:
        client.close()


def open_database(where: str | None) -> ExampleDatabase | None:
    """The Hypothesis example database ``where`` names (see the module's docstring), or None.

    >>> open_database(".hypothesis/cxpay")
    DirectoryBasedExampleDatabase('.hypothesis/cxpay')
    """
    if where is None:
        return None
    if not is_redis(where):
        return DirectoryBasedExampleDatabase(Path(where))
    import redis
    from hypothesis.extra.redis import RedisExampleDatabase

    client: Any = redis.Redis.from_url(where, socket_connect_timeout=10, socket_timeout=30)
    return RedisExampleDatabase(client, key_prefix=REDIS_PREFIX)
