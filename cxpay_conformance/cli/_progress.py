"""Progress for long commands: a live bar in a terminal, a plain line every few seconds in a log.

A CI log is not a terminal: rich draws no live bar there, so without these lines a run says
nothing for minutes. And a log is not 80 columns wide: :func:`report_console` never cuts a
path or a command in two.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from rich.console import Console
from rich.progress import Task, TimeElapsedColumn
from rich.text import Text

#: Seconds between two progress lines in a log (tests set it to 0: a line at every tick).
LOG_INTERVAL = 5.0
#: The width of a table printed to a log or a file: room for the table, not 80 columns.
LOG_WIDTH = 160


def report_console(*, stderr: bool = False) -> Console:
    """The console a command reports on: lines are never wrapped (the terminal wraps them, and
    a log keeps them whole), so that a path or a command can be copied as printed.

    >>> report_console().print("Replay: cxpay-conformance run --seed 1 ...")
    """
    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=stderr, soft_wrap=True, width=max(console.width, LOG_WIDTH))
    return console


def clock(seconds: float) -> str:
    """``seconds`` as the progress bar shows them: 0:01:05."""
    return str(timedelta(seconds=int(seconds)))


class RunningClock(TimeElapsedColumn):
    """The elapsed time, still running once the bar is full: rich stops its clock there, but a
    failing run goes on shrinking its story after its last example."""

    def render(self, task: Task) -> Text:
        return Text(clock(task.elapsed or 0), style="progress.elapsed")


class LogLines:
    """Plain progress lines for a log: at most one per ``interval`` seconds, whenever the work
    ticks (the suite's listener hears of every step).

    >>> log = LogLines(Console())
    >>> log.tick(lambda: "3/150 examples")      # printed once LOG_INTERVAL has passed
    """

    def __init__(self, console: Console, interval: float | None = None) -> None:
        self.console = console
        self.interval = LOG_INTERVAL if interval is None else interval
        self.started = self._last = time.monotonic()

    @property
    def elapsed(self) -> str:
        return clock(time.monotonic() - self.started)

    def tick(self, line: Callable[[], str], *, now: bool = False) -> None:
        """Print ``line()`` if ``interval`` has passed since the last line (or ``now``)."""
        moment = time.monotonic()
        if now or moment - self._last >= self.interval:
            self._last = moment
            self.console.print(line(), markup=False, highlight=False, soft_wrap=True)


@contextmanager
def heartbeat(log: LogLines, line: Callable[[], str]) -> Iterator[None]:
    """Tick ``log`` from a thread while the body runs, for work that reports back rarely (a
    self-test run of one fault lasts minutes)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(max(log.interval, 0.05)):
            log.tick(line)

    thread = threading.Thread(target=beat, name="cxpay-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
