"""A TCP proxy on loopback that adds a round trip, as a network between the suite and a server would.

Every byte the client sends reaches the server ``rtt / 2`` later, and every byte of the answer
reaches the client ``rtt / 2`` after the server wrote it, each one-way delay moved by up to
``jitter / 2`` either way at random (never below zero, and never reordering a connection's
bytes). A new connection waits one more round trip before its first byte goes on, as a TCP
handshake costs across a network, so that reusing a keep-alive connection shows what it saves.
Each client connection gets a connection of its own to the server.

It runs in a process of its own (:func:`latency_proxy`), so that its work takes nothing from
the suite's interpreter lock, and prints the port it listens on:

    python benchmarks/_latency_proxy.py --target 127.0.0.1:8000 --rtt-ms 20 --jitter-ms 4
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class Delays:
    """One-way delays in seconds: half the round trip, moved by jitter."""

    def __init__(self, rtt: float, jitter: float, seed: int | None = None) -> None:
        self.rtt, self.jitter = rtt, jitter
        self._random = random.Random(seed)

    def one_way(self) -> float:
        return max(0.0, self.rtt / 2 + self._random.uniform(-self.jitter / 2, self.jitter / 2))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delays: Delays,
                first_extra: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk held back a one-way delay (in order)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    extra = first_extra

    async def release() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                with suppress(OSError):
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(release())
    last_due = 0.0
    try:
        while True:
            try:
                chunk = await reader.read(65536)
            except OSError:
                chunk = b""
            last_due = max(last_due, loop.time() + delays.one_way() + extra)
            extra = 0.0
            queue.put_nowait((last_due, chunk))
            if not chunk:
                break
        await sender
    except (OSError, asyncio.CancelledError):
        sender.cancel()


async def _serve(listen_port: int, target_host: str, target_port: int, delays: Delays) -> None:
    connections = 0

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(_pipe(client_reader, server_writer, delays, delays.rtt),
                                 _pipe(server_reader, client_writer, delays, 0.0))
        finally:
            for writer in (client_writer, server_writer):
                with suppress(OSError):
                    writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()
    print(f"connections: {connections}", flush=True)  # how many the clients opened: keep-alive shows here


class Proxy:
    """A running proxy: the port it listens on, and (once stopped) the connections clients opened."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections: int | None = None


@contextmanager
def latency_proxy(target_port: int, rtt_ms: float, jitter_ms: float, seed: int = 0) -> Iterator[Proxy]:
    """A proxy process in front of ``127.0.0.1:target_port``; yields it (:class:`Proxy`)."""
    command = [sys.executable, __file__, "--target", f"127.0.0.1:{target_port}", "--rtt-ms", str(rtt_ms),
               "--jitter-ms", str(jitter_ms), "--seed", str(seed)]
    proxy = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proxy.stdout.readline() if proxy.stdout else ""
        if not line.startswith("listening on "):
            error = proxy.stderr.read() if proxy.stderr else ""
            raise SystemExit(f"the latency proxy did not start: {line}{error}".strip())
        running = Proxy(int(line.rsplit(":", 1)[1]))
        yield running
    finally:
        proxy.terminate()
        rest, _ = proxy.communicate(timeout=30)
    for said in rest.splitlines():
        if said.startswith("connections: "):
            running.connections = int(said.split(": ")[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True, metavar="HOST:PORT", help="the server to forward to")
    parser.add_argument("--listen-port", type=int, default=0, help="default: a free port (printed)")
    parser.add_argument("--rtt-ms", type=float, default=20.0, help="round trip added (default 20)")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="spread of the round trip (default 0)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the jitter")
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    delays = Delays(args.rtt_ms / 1000, args.jitter_ms / 1000, args.seed)
    with suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.listen_port, host, int(port), delays))


if __name__ == "__main__":
    main()
