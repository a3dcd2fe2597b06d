"""`cxpay-conformance check-trace`: recorded traffic held to the spec, offline or as it happens."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from cxpay_conformance.cli._common import EXIT_FINDINGS, EXIT_OK, SPEC_ARGUMENT_HELP, reported_errors
from cxpay_conformance.cli._progress import LogLines, RunningClock, report_console
from cxpay_conformance.errors import UsageError
from cxpay_conformance.trace.check import Progress as ProgressCallback
from cxpay_conformance.trace.check import TraceChecker, TraceResult
from cxpay_conformance.trace.follow import EventFollower, FollowResult

#: Records a file must hold before its progress is shown.
LONG_FILE = 2000


@click.command("check-trace")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=str))
# --spec only: spec_option's old positional [SPEC] would take a trace file for the spec.
@click.option("--spec", "spec_path", metavar="PATH", type=click.Path(dir_okay=False, path_type=str),
              help=SPEC_ARGUMENT_HELP)
@click.option("--follow", "follow_url", metavar="URL",
              help="Poll this implementation's GET /events and check each event as it arrives (Ctrl-C stops).")
@click.option("--api-key", envvar="CXPAY_API_KEY", metavar="KEY",
              help="The merchant's key for --follow [env: CXPAY_API_KEY].")
@click.option("--interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Seconds between two polls of --follow.")
@click.option("--max-seconds", type=click.FloatRange(min=0), default=None,
              help="Stop following after this long (default: until Ctrl-C or a violation).")
@click.option("--max-events", type=click.IntRange(min=1), default=None,
              help="Stop following once this many events were checked.")
def check_trace(files: tuple[str, ...], spec_path: str | None, follow_url: str | None, api_key: str | None,
                interval: float, max_seconds: float | None, max_events: int | None) -> None:
    """Check recorded traffic against the spec: traces of `run --record` / `serve --record`,
    HAR files, and pages of GET /events (a page, or a JSON array of pages).

    \b
    Examples:
      cxpay-conformance run --record run.jsonl && cxpay-conformance check-trace run.jsonl
      cxpay-conformance check-trace session.har events.json
      cxpay-conformance check-trace --follow https://sandbox.example --api-key $KEY

    \b
    Every answer, status change and webhook must be one the spec allows, to the end of the file;
    the first that is not is reported with its file and line, the payment and its story.
    Exit codes: 0 clean, 1 a violation, 2 a file or option that is wrong, 3 --follow's URL unreachable.
    """
    console = report_console()
    with reported_errors():
        if not files and follow_url is None:
            raise UsageError("check-trace needs FILE... (traces, HAR files, pages of GET /events) or --follow URL; "
                             "see cxpay-conformance check-trace --help")
        if follow_url is None and (max_seconds is not None or max_events is not None):
            raise UsageError("--max-seconds and --max-events only apply to --follow URL")
        if follow_url is not None and not api_key:
            raise UsageError("--follow needs the merchant's key: --api-key KEY or the CXPAY_API_KEY variable")
        checker = TraceChecker.load(spec_path)
        clean = True
        for path in files:
            with _progress(path) as progress:
                result = checker.check_file(path, progress)
            clean &= _print_result(console, result)
        if follow_url is not None:
            assert api_key is not None
            clean &= _follow(console, checker, follow_url, api_key, interval, max_seconds, max_events)
    sys.exit(EXIT_OK if clean else EXIT_FINDINGS)


def _print_result(console: Console, result: TraceResult) -> bool:
    console.print(result.summary(), markup=False, highlight=False)
    if result.violation is not None:
        console.print()
        console.print(result.violation.render(), markup=False, highlight=False)
        console.print()
    return result.ok


@contextmanager
def _progress(path: str) -> Iterator[ProgressCallback]:
    """A progress callback for one file: a bar in a terminal, a line every few seconds in a log;
    nothing for a short file."""
    err = report_console(stderr=True)
    if err.is_terminal:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RunningClock(),
                      console=err, transient=True) as bar:
            task = bar.add_task(f"checking {path}", total=None)

            def show(done: int, total: int) -> None:
                if total >= LONG_FILE:
                    bar.update(task, completed=done, total=total)

            yield show
        return
    log = LogLines(err)

    def line(done: int, total: int) -> None:
        if total >= LONG_FILE and done < total:
            log.tick(lambda: f"progress: {path}: {done}/{total} records checked, {log.elapsed}")

    yield line


def _follow(console: Console, checker: TraceChecker, url: str, api_key: str, interval: float,
            max_seconds: float | None, max_events: int | None) -> bool:
    follower = EventFollower(checker, url, api_key)
    console.print(f"Following {follower.source} (every {interval:g} s; Ctrl-C stops)", markup=False, highlight=False)
    told = [0]

    def polled(result: FollowResult) -> None:
        if result.events != told[0]:
            told[0] = result.events
            console.print(f"{result.events} events checked", markup=False, highlight=False)

    try:
        result = follower.follow(interval=interval, max_seconds=max_seconds, max_events=max_events, on_poll=polled)
    except KeyboardInterrupt:
        result = follower.result()
    finally:
        follower.close()
    verdict = "clean" if result.ok else "VIOLATION"
    console.print(f"{result.source}: {result.events} events in {result.polls} polls: {verdict}", markup=False,
                  highlight=False)
    if result.violation is not None:
        console.print()
        console.print(result.violation.render(), markup=False, highlight=False)
    return result.ok
