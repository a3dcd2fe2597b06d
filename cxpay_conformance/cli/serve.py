"""`cxpay-conformance serve`: run the reference sandbox for a merchant's integration.

Parses the options into a :class:`~cxpay_conformance.server.ServerConfig`, opens the store and
binds the port first (so that a bad ``--db`` or a port in use is a one-line error and exit 2),
prints where the sandbox answers and with which keys, then serves until Ctrl-C or SIGTERM.
``--fault NAME`` starts it with deliberately injected bugs (``--list-faults`` lists them), for
proving that a conformance suite catches them.
"""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import click

from cxpay_conformance.cli._common import EXIT_USAGE, fail
from cxpay_conformance.server import ServerConfig, StoreError, WebhookPolicy, open_store
from cxpay_conformance.server.config import DEFAULT_API_KEYS, merchant_id_for_key
from cxpay_conformance.server.faults import FAULTS
from cxpay_conformance.server.runner import base_url_of, bind_socket, uvicorn_server
from cxpay_conformance.server.webhook_hosts import DEFAULT_WEBHOOK_HOSTS

_SECONDS = click.FloatRange(min=0, min_open=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY",
    help="A merchant's secret key; repeat for more merchants. "
    "Default: two merchants with the built-in test keys.",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="SQLite file that keeps all state across restarts (default: memory only).",
)
@click.option(
    "--webhook-max-attempts",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Tries per webhook delivery before giving up.",
)
@click.option(
    "--webhook-base-delay",
    type=_SECONDS,
    default=1.0,
    show_default=True,
    help="Seconds before the first retry; each further retry waits twice as long.",
)
@click.option(
    "--webhook-max-delay",
    type=_SECONDS,
    default=60.0,
    show_default=True,
    help="Longest wait between two tries, in seconds.",
)
@click.option(
    "--webhook-timeout",
    type=_SECONDS,
    default=10.0,
    show_default=True,
    help="Seconds a webhook endpoint has to answer a delivery.",
)
@click.option(
    "--webhook-allow-host",
    "webhook_hosts",
    multiple=True,
    metavar="PATTERN",
    help="Also deliver webhooks to this host: a name, a glob such as *.shop.example, or an IP "
    "network such as 203.0.113.0/24; repeat for more. Default: loopback and private "
    "addresses and localhost only. Names are matched as written, never resolved.",
)
@click.option(
    "--public-url",
    metavar="URL",
    default=None,
    help="Where clients reach this sandbox (behind a proxy, or on another machine), for the "
    "checkout sessions' hosted page url. Default: the address the request reached.",
)
@click.option("--quiet", is_flag=True, help="Do not log a line per request.")
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    default=None,
    help="Write a trace of every request, answer and webhook to FILE (JSON Lines; keys never "
    "written), for cxpay-conformance check-trace; see docs/traces.md.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME",
    help="Start with this deliberately injected bug (repeat for more); see --list-faults.",
)
@click.option(
    "--list-faults",
    is_flag=True,
    help="List the injectable faults (name, the check that catches it, what it breaks) and exit.",
)
def serve(
    host: str,
    port: int,
    api_keys: tuple[str, ...],
    db_path: str | None,
    webhook_max_attempts: int,
    webhook_base_delay: float,
    webhook_max_delay: float,
    webhook_timeout: float,
    webhook_hosts: tuple[str, ...],
    public_url: str | None,
    quiet: bool,
    record_path: str | None,
    faults: tuple[str, ...],
    list_faults: bool,
) -> None:
    """Run the CX Pay sandbox: a stateful test-mode server with test cards, 3D Secure,
    a test clock, signed webhooks and idempotency.

    \b
    Examples:
      cxpay-conformance serve
      cxpay-conformance serve --port 9000 --db sandbox.sqlite3
      cxpay-conformance serve --api-key sk_test_shop_one --api-key sk_test_shop_two
      cxpay-conformance serve --host 0.0.0.0 --public-url http://192.168.1.20:8000 \\
          --webhook-allow-host '*.shop.example'
      cxpay-conformance serve --fault session_not_completed   # a deliberately broken sandbox
      cxpay-conformance serve --record sandbox.trace.jsonl    # then: cxpay-conformance check-trace
    """
    if list_faults:
        _print_faults()
        return
    keys = (
        {key: merchant_id_for_key(key) for key in api_keys} if api_keys else dict(DEFAULT_API_KEYS)
    )
    try:
        config = ServerConfig(
            api_keys=keys,
            db_path=db_path,
            webhooks=WebhookPolicy(
                max_attempts=webhook_max_attempts,
                base_delay=webhook_base_delay,
                max_delay=webhook_max_delay,
                timeout=webhook_timeout,
                allowed_hosts=(*DEFAULT_WEBHOOK_HOSTS, *webhook_hosts),
            ),
            public_url=public_url,
            log_requests=not quiet,
            faults=frozenset(faults),
            trace_path=record_path,
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    if record_path is not None:
        try:
            open(record_path, "a", encoding="utf-8").close()
        except OSError as exc:
            fail(f"--record {record_path}: cannot be written ({exc.strerror or exc}); "
                 "choose a path in a folder that exists and is writable", EXIT_USAGE)
    try:
        store = open_store(config)
    except StoreError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        store.close()
        fail(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "is another server using that port? Choose another with --port.",
            EXIT_USAGE,
        )
    _print_banner(base_url_of(sock), config)
    _log_to_stderr()
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the handler
    # found at start: make that one end the command like Ctrl-C does, with exit code 0.
    signal.signal(signal.SIGTERM, _stop)
    try:
        uvicorn_server(config, store).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn already shut down cleanly; Ctrl-C or SIGTERM is how one stops a server
    finally:
        sock.close()
        store.close()
    click.echo("sandbox stopped")


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _print_banner(base_url: str, config: ServerConfig) -> None:
    click.secho(f"CX Pay sandbox listening on {base_url}", bold=True)
    click.echo("test mode: no real money moves; see docs/sandbox.md")
    click.echo("API keys (Authorization: Bearer <key>):")
    for key, merchant in config.api_keys.items():
        click.echo(f"  {key}   merchant {merchant}")
    state = f"in {config.db_path} (survives restarts)" if config.db_path else "in memory only"
    click.echo(f"state: {state}")
    policy = config.webhooks
    click.echo(
        f"webhooks: up to {policy.max_attempts} tries, retry after {policy.base_delay:g}s "
        f"doubling to at most {policy.max_delay:g}s, {policy.timeout:g}s timeout"
    )
    extra = policy.allowed_hosts[len(DEFAULT_WEBHOOK_HOSTS) :]
    click.echo(
        "webhooks go to: loopback and private addresses, localhost"
        + "".join(f", {pattern}" for pattern in extra)
    )
    if config.public_url:
        click.echo(f"hosted pages at: {config.public_url}/pay/...")
    if config.trace_path:
        click.echo(f"recording a trace to: {config.trace_path} (check it with cxpay-conformance check-trace)")
    if config.faults:
        click.secho(
            "INJECTED FAULTS (this sandbox is deliberately broken): "
            + ", ".join(sorted(config.faults)),
            fg="red",
            bold=True,
        )
    click.echo("stop with Ctrl-C")


def _print_faults() -> None:
    """One line per fault: name, the check family that should catch it, what it breaks."""
    width = max(len(name) for name in FAULTS)
    family_width = max(len(fault.family) for fault in FAULTS.values())
    click.echo(f"{'fault':<{width}}  {'caught by':<{family_width}}  what it breaks")
    for fault in FAULTS.values():
        line = f"{fault.name:<{width}}  {fault.family:<{family_width}}  {fault.description}"
        if fault.blind_spot:
            line += f" [not catchable by the suite: {fault.blind_spot}]"
        click.echo(line)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("cxpay_conformance.server")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
