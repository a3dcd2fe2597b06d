"""`cxpay-conformance run`: the conformance suite against an implementation.

With no ``--base-url`` it starts the embedded reference server on a free loopback port and
tests that. Exit codes: 0 conformant, 1 not conformant, 2 usage or spec error, 3 the
implementation is unreachable or does not speak the protocol.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from cxpay_conformance.cli._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, reported_errors
from cxpay_conformance.cli._progress import LogLines, RunningClock, report_console
from cxpay_conformance.errors import UsageError
from cxpay_conformance.suite import SuiteConfig, SuiteContext, SuiteResult, run_suite
from cxpay_conformance.suite.adapter import Adapter
from cxpay_conformance.suite.checks import CHECKS
from cxpay_conformance.suite.config import PHASES, PROFILE_RACES, PROFILES
from cxpay_conformance.suite.example_db import DEFAULT as EXAMPLE_DB
from cxpay_conformance.suite.example_db import parse as parse_example_db
from cxpay_conformance.suite.preflight import Checked, check_options, preflight
from cxpay_conformance.suite.receiver import Delivery
from cxpay_conformance.suite.report import html, junit_xml, shrinking_summary, story, write_reports
from cxpay_conformance.suite.shares import WHOLE, Share, useful_workers
from cxpay_conformance.suite.workers import default_workers, run_workers

T = TypeVar("T")


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (value or "").split(",") if n.strip())


@click.command()
@click.option(
    "--base-url", metavar="URL", help="The implementation to test (default: start the embedded reference server)."
)
@click.option(
    "--api-key",
    envvar="CXPAY_API_KEY",
    metavar="KEY",
    help="Secret key of the merchant to test as [env: CXPAY_API_KEY].",
)
@click.option(
    "--second-api-key",
    envvar="CXPAY_SECOND_API_KEY",
    metavar="KEY",
    help="Another merchant's key, to check tenant isolation [env: CXPAY_SECOND_API_KEY].",
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False),
    help="The spec file (default: the packaged spec/cxpay.yaml).",
)
@click.option("--seed", type=int, help="Seed of the random run; printed at the start of every run.")
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default="ci",
    show_default=True,
    help="How hard to try: " + ", ".join(f"{k} = {v[0]} examples x {v[1]} steps" for k, v in PROFILES.items()) + ".",
)
@click.option(
    "--max-examples",
    type=click.IntRange(min=1),
    help="Examples (random event sequences) to run; overrides the profile.",
)
@click.option("--max-steps", type=click.IntRange(min=1), help="Steps per example; overrides the profile.")
@click.option(
    "--time-budget", type=click.FloatRange(min=1), metavar="SECONDS", help="Stop starting new examples after this long."
)
@click.option(
    "--phases",
    metavar="NAMES",
    default=",".join(PHASES),
    show_default=True,
    help="The phases to run, comma-separated: sequential (one request at a time), concurrent "
    "(requests on one payment at once, checked for linearizability).",
)
@click.option(
    "--race-examples",
    type=click.IntRange(min=0),
    metavar="N",
    help="Test cases of the concurrent phase; overrides the profile ("
    + ", ".join(f"{k} {v}" for k, v in PROFILE_RACES.items()) + ").",
)
@click.option(
    "--race-repeats",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    metavar="N",
    help="Runs of each concurrent test case, each on a payment of its own (a race shows only sometimes).",
)
@click.option("--checks", "checks_", metavar="NAMES", help="Only these checks, comma-separated (see --list-checks).")
@click.option("--skip-checks", metavar="NAMES", help="Skip these checks, comma-separated.")
@click.option("--list-checks", is_flag=True, help="List the checks and exit.")
@click.option(
    "--webhook-host",
    metavar="HOST",
    help="The address the implementation reaches the suite's webhook receiver at (default 127.0.0.1).",
)
@click.option(
    "--webhook-port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port of the webhook receiver (default: a free one).",
)
@click.option(
    "--webhook-timeout",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds to wait for expected webhooks at quiescence (an event type that once did "
    "not come in time is then waited for only briefly).",
)
@click.option(
    "--webhook-retry-window",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds within which a delivery the suite's receiver refuses on purpose must come again "
    "(default: the spec's protocol.webhook_retry_window, 30 s).",
)
@click.option(
    "--settle-timeout",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds to poll an object that differs from the model before calling it a failure "
    "(asynchronous implementations); while a failure is shrunk, only briefly unless polling has helped.",
)
@click.option(
    "--shrink-budget",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop shrinking a failure after this long and report the story as far as it got, with the "
    "steps before and after (default: Hypothesis's own cap, 5 minutes); against a slow endpoint "
    "each shrinking attempt replays a whole example.",
)
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="Write a JUnit XML report (one test case per check).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    metavar="PATH",
    help="Write the result as JSON; - prints it on stdout (and the rest on stderr).",
)
@click.option(
    "--report-dir",
    default="cxpay-report",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the HTML report (index.html), the story, the reproduction script and the coverage diagrams go.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="Write the HTML report here too (one self-contained page; the report directory always gets index.html).",
)
@click.option(
    "--example-db",
    metavar="WHERE",
    help="Where failing examples are kept and tried first by every later run: a folder (default "
    ".hypothesis/cxpay), redis://HOST:PORT/N (shared by every worker, shard and CI job that names it; "
    "needs the [redis] extra), or none.",
)
@click.option("--no-database", is_flag=True, help="The same as --example-db none.")
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write every exchange and webhook of the run to FILE (JSON Lines; keys never written), "
    "for cxpay-conformance check-trace; see docs/traces.md.",
)
@click.option(
    "--workers",
    metavar="N|auto",
    default="auto",
    show_default=True,
    help="Run the examples in N processes at once, each a seeded share, results merged (docs/scaling.md); "
    "each tests as a merchant of its own: against --base-url give N comma-separated keys to --api-key "
    "(and --second-api-key). auto: more workers the longer the round trip, 1 on loopback.",
)
@click.option(
    "--shard",
    metavar="i/N",
    help="Run only share i of N of the run (job i of a CI matrix of N with the same --seed); the N "
    "shards together run exactly the examples of the whole run (docs/scaling.md).",
)
def run(
    base_url: str | None,
    api_key: str | None,
    second_api_key: str | None,
    spec_path: str | None,
    seed: int | None,
    profile: str,
    max_examples: int | None,
    max_steps: int | None,
    time_budget: float | None,
    phases: str,
    race_examples: int | None,
    race_repeats: int,
    checks_: str | None,
    skip_checks: str | None,
    list_checks: bool,
    webhook_host: str | None,
    webhook_port: int,
    webhook_timeout: float,
    webhook_retry_window: float | None,
    settle_timeout: float,
    shrink_budget: float | None,
    junit_xml: str | None,
    json_path: str | None,
    report_dir: str,
    html_path: str | None,
    example_db: str | None,
    no_database: bool,
    record_path: str | None,
    workers: str,
    shard: str | None,
) -> None:
    """Run the conformance suite against a CX Pay implementation.

    \b
    Examples:
      cxpay-conformance run                                   # the embedded reference server
      cxpay-conformance run --base-url https://sandbox.example --api-key $KEY --junit-xml junit.xml
      cxpay-conformance run --seed 1234 --max-examples 20     # replay a reported failure
    """
    console = report_console(stderr=json_path == "-")  # stdout carries the JSON alone
    if list_checks:
        for name, info in CHECKS.items():
            console.print(f"[bold]{name:<18}[/bold] {info.description}")
        return
    with reported_errors():
        asked_workers = _workers(workers)
        api_key, second_api_key, merchants = _merchants(api_key, second_api_key)
        options = SuiteConfig(
            base_url=base_url,
            embedded=base_url is None,
            api_key=api_key,
            second_api_key=second_api_key,
            more_merchants=merchants,
            share=Share.parse(shard) if shard else WHOLE,
            spec_path=spec_path,
            seed=seed,
            profile=profile,
            max_examples=max_examples,
            max_steps=max_steps,
            time_budget=time_budget,
            phases=_names(phases),
            race_examples=race_examples,
            race_repeats=race_repeats,
            checks=_names(checks_),
            skip_checks=_names(skip_checks),
            webhook_host=webhook_host,
            webhook_port=webhook_port,
            webhook_timeout=webhook_timeout,
            webhook_retry_window=webhook_retry_window,
            settle_timeout=settle_timeout,
            shrink_budget=shrink_budget,
            report_dir=report_dir,
            database=_example_db(example_db, no_database),
        )
        # Every mistake that needs no implementation, before the embedded server starts.
        check_options(options, files={"--junit-xml": junit_xml, "--json": json_path, "--record": record_path,
                                       "--html": html_path},
                      folders={"--report-dir": report_dir})
        given = 1 + len(options.more_merchants)
        if base_url and asked_workers is not None and asked_workers > given:
            raise UsageError(f"--workers {asked_workers} needs {asked_workers} merchants to test as (each worker "
                             f"advances its own merchant's test clock), and {given} "
                             f"{'was' if given == 1 else 'were'} given: give {asked_workers} comma-separated keys "
                             "to --api-key (and as many to --second-api-key)")
        if asked_workers not in (None, 1) and record_path:
            raise UsageError(f"--record with --workers {asked_workers}: record a run of one worker (--workers 1)")
        with _implementation(options, console, asked_workers) as config:
            checked = preflight(config)  # the keys too: one request each, before the run
            config = _with_workers(config, asked_workers, checked, console)
            with _recording(record_path, config, checked) as (adapter, on_webhook):
                result = _run_with_progress(config, console, checked, adapter=adapter, on_webhook=on_webhook)
        unwritten = _finish(result, console, junit_xml, json_path, report_dir, embedded=base_url is None,
                            html_path=html_path)
    for problem in unwritten:
        click.secho(f"error: {problem}; the verdict above stands", fg="red", err=True)
    # A report asked for and missing fails a conformant run: a CI job must not pass without it.
    sys.exit(EXIT_FINDINGS if not result.conformant else EXIT_USAGE if unwritten else EXIT_OK)


def _example_db(where: str | None, no_database: bool) -> str | None:
    if no_database and where is not None and parse_example_db(where) is not None:
        raise UsageError(f"--no-database and --example-db {where} contradict each other; give one of them")
    return None if no_database else parse_example_db(where or EXAMPLE_DB)


def _workers(text: str) -> int | None:
    """``--workers``: a count from 1, or None for auto."""
    if text.strip().lower() == "auto":
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise click.BadParameter(f"{text!r}: give a number of workers from 1, or auto", param_hint="'--workers'")
    return count


def _merchants(api_key: str | None, second_api_key: str | None) -> tuple[
        str | None, str | None, tuple[tuple[str, str | None], ...]]:
    """The first merchant's keys and the other workers' (``--api-key K1,K2 --second-api-key S1,S2``)."""
    keys, seconds = list(_names(api_key)), list(_names(second_api_key))
    if seconds and len(seconds) != len(keys):
        raise click.BadParameter(f"{len(keys)} keys to --api-key but {len(seconds)} to --second-api-key: give one "
                                 "second merchant per merchant, in the same order", param_hint="'--second-api-key'")
    if len(keys) <= 1:
        return api_key, second_api_key, ()
    others: list[str | None] = list(seconds) if seconds else [None] * len(keys)
    pairs = list(zip(keys, others, strict=True))
    return pairs[0][0], pairs[0][1], tuple(pairs[1:])


def _with_workers(config: SuiteConfig, asked: int | None, checked: Checked, console: Console) -> SuiteConfig:
    """``config`` with its worker count: the one asked for, or the default for the measured round trip."""
    if asked is None:
        count, why = default_workers(checked.round_trip, config)
        if config.embedded:
            count, why = 1, "1 worker: the embedded reference server is on loopback (give --workers N for more)"
    else:
        count, why = asked, f"{asked} worker{'s' if asked > 1 else ''}: --workers {asked}"
        useful = useful_workers(config.examples, config.races)
        if count > useful:  # a worker without a batch would only start and stop
            count = useful
            why = (f"{useful} worker{'s' if useful > 1 else ''}: --workers {asked}, but the run has only "
                   f"{useful} batch{'es' if useful > 1 else ''} to share")
    console.print(f"Workers: {why}.")
    return replace(config, workers=count)


@contextlib.contextmanager
def _implementation(options: SuiteConfig, console: Console, workers: int | None = 1) -> Iterator[SuiteConfig]:
    """``options`` as they are for a ``--base-url``; else with the embedded server's URL and keys
    (and the user's ``--second-api-key`` if one was given), a pair of merchants per worker."""
    if options.base_url:
        yield options
        return
    from cxpay_conformance.embedded import embedded_server

    with embedded_server(pairs=workers or 1) as server:
        console.print(f"Testing the embedded reference server at {server.base_url} (no --base-url given).")
        yield replace(options, base_url=server.base_url, api_key=server.api_key,
                      second_api_key=options.second_api_key or server.second_api_key,
                      more_merchants=server.more_merchants)


@contextlib.contextmanager
def _recording(path: str | None, config: SuiteConfig,
               checked: Checked) -> Iterator[tuple[Adapter | None, Callable[[Delivery], None] | None]]:
    """With ``--record``: the adapter that writes each exchange to the trace, and what writes each webhook."""
    if path is None:
        yield None, None
        return
    from cxpay_conformance.suite.preflight import adapter_for
    from cxpay_conformance.trace.record import RecordingAdapter, TraceWriter

    with TraceWriter(path, source="run") as trace:
        yield RecordingAdapter(adapter_for(config, checked.contract), trace), trace.webhook


def _run_with_progress(config: SuiteConfig, console: Console, checked: Checked | None = None, *,
                       adapter: Adapter | None = None,
                       on_webhook: Callable[[Delivery], None] | None = None) -> SuiteResult:
    seed_note = config.seed if config.seed is not None else "random (printed at the end)"
    races = f"{config.races} concurrent test case{'' if config.races == 1 else 's'} x {config.race_repeats}"
    sequential = f"{config.examples} examples x up to {config.steps} steps"
    then = f", then {races}" if config.races else ""
    plan = sequential + then if "sequential" in config.phases else races
    console.print(f"Profile {config.profile}: {plan}; seed {seed_note}")
    progress = Progress(
        TextColumn("{task.fields[phase]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        RunningClock(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )
    # Not a terminal (a CI log): no live bar, so a plain line every few seconds instead.
    log = None if console.is_terminal else LogLines(console)
    shortest: int | None = None  # the shortest failing story so far, while Hypothesis shrinks it
    announced = False  # that shrinking began, in the log

    def listener(ctx: SuiteContext) -> None:
        nonlocal shortest, announced
        machine, first = ctx.current, ctx.first_failure
        if machine is not None and machine.failed:
            shortest = min(shortest or len(machine.steps), len(machine.steps))
        covered = (f"{ctx.steps} steps, {ctx.requests} requests, "
                   f"{len(ctx.coverage.transitions)}/{len(ctx.spec.transitions)} transitions covered")
        counts = covered + (f", {ctx.races} concurrent histories" if ctx.races else "")
        racing = ctx.races > 0 or "sequential" not in config.phases
        histories = config.races * config.race_repeats
        if first is None and racing:
            # The concurrent phase: its histories on the bar (each plan's repeats one by one),
            # counted there once, so not again in the counts beside it.
            progress.update(task, total=histories, completed=min(ctx.races, histories), counts=covered,
                            phase="[bold]concurrent histories")
            if log is not None:
                log.tick(lambda: f"progress: {ctx.races}/{histories} concurrent histories, {covered}, {log.elapsed}")
            return
        if first is None:
            done, shrinking = min(ctx.examples, config.examples), ""
        else:
            # Past the first failure, Hypothesis replays variants of it to shrink the story:
            # the examples explored stay where the failure came.
            done = first.examples
            if first.check == "linearizability":  # found by the concurrent phase
                what, replays = f"concurrent history {first.races + 1}", ctx.races - first.races - 1
            else:
                what, replays = f"example {first.examples}", ctx.examples - first.examples
            shrinking = (f"shrinking the failure of {what} ({max(0, replays)} replays, shortest story "
                         f"{shortest or '?'} steps)")
        progress.update(task, completed=done, counts=counts,
                        phase=f"[bold red]{shrinking}[/]" if shrinking else "[bold]examples")
        if log is not None:
            began_shrinking, announced = bool(shrinking) and not announced, announced or bool(shrinking)
            log.tick(lambda: f"progress: {shrinking + '; ' if shrinking else ''}{done}/{config.examples} "
                             f"examples, {counts}, {log.elapsed}", now=began_shrinking)

    with progress:
        task = progress.add_task("run", total=config.examples, counts="", phase="[bold]examples")
        if config.workers > 1 and checked is not None:
            return run_workers(config, listener=listener, spec=checked.spec)
        return run_suite(config, adapter=adapter, listener=listener, checked=checked, on_webhook=on_webhook)


def _finish(
    result: SuiteResult,
    console: Console,
    junit_path: str | None,
    json_path: str | None,
    report_dir: str,
    *,
    embedded: bool,
    html_path: str | None = None,
) -> list[str]:
    """Write the reports and print the verdict; answer what could not be written (the paths were
    checked before the run, but a disk can fill or a folder go away: the verdict is printed anyway)."""
    unwritten: list[str] = []
    written = _written(unwritten, "--report-dir", report_dir, lambda: write_reports(result, report_dir)) or {}
    if json_path:
        import json

        from cxpay_conformance.suite.report import as_json

        text = json.dumps(as_json(result), indent=2) + "\n"
        if json_path == "-":
            click.echo(text, nl=False)
        else:
            _written(unwritten, "--json", json_path, lambda: Path(json_path).write_text(text, encoding="utf-8"))
    if junit_path:
        _written(unwritten, "--junit-xml", junit_path,
                 lambda: Path(junit_path).write_text(junit_xml(result), encoding="utf-8"))
    pages = [str(written["html"])] if "html" in written else []
    if html_path and _written(unwritten, "--html", html_path,
                              lambda: Path(html_path).write_text(html(result), encoding="utf-8")) is not None:
        pages.append(html_path)
    table = Table(title="Coverage of the spec", show_lines=False)
    for column in ("object", "states reached", "transitions covered", "not covered"):
        table.add_column(column)
    for item in result.coverage.per_object():
        table.add_row(
            item.object,
            f"{item.states_reached}/{item.states_total}",
            f"{item.transitions_hit}/{item.transitions_total}",
            "\n".join(item.uncovered_transitions) or "-",
        )
    console.print(table)
    tested, total = result.coverage.rejection_pairs()
    console.print(f"Rejections tested: {tested}/{total} (event, state) pairs where the spec expects one.")
    run_checks = ", ".join(f"{k} {v}" for k, v in sorted(result.checks_run.items()))
    console.print(f"Checks run: {run_checks or 'none'}")
    console.print(
        f"{result.examples} examples, {result.steps} steps, "
        + (f"{result.races} concurrent histories, " if result.races else "")
        + f"{result.requests} requests in {result.duration:.1f}s; seed {result.seed}"
    )
    first = result.first_failure
    if result.failure is not None and first is not None:
        where = (f"concurrent history {first.races + 1}" if first.check == "linearizability"
                 else f"example {first.examples}")
        console.print(
            f"The first failure ({first.check}) came in {where}, after {first.seconds:.1f}s; "
            "the examples after it were Hypothesis shrinking it to the story below."
        )
        shrunk = shrinking_summary(result)
        if shrunk:
            console.print(shrunk, markup=False, highlight=False, soft_wrap=True)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", soft_wrap=True, highlight=False)
    if result.failure is not None:
        console.print()
        console.print(story(result), markup=False, highlight=False, soft_wrap=True)
        console.print()
        console.print(f"[red bold]NOT CONFORMANT[/]: check [bold]{result.failure.check}[/] failed.")
        if "repro" in written:
            console.print(f"Reproduction script: {written['repro']} (reads CXPAY_API_KEY; exits 1 while the "
                          f"failure reproduces, 0 once it does not); story: {written['story']}", soft_wrap=True)
    else:
        console.print("[green bold]CONFORMANT[/]: every check passed.")
    if "coverage" in written:
        console.print(f"Coverage diagrams: {written['coverage']}/")
    if pages:
        console.print(f"HTML report: {', '.join(pages)}", soft_wrap=True)
    if embedded:
        console.print("(tested the embedded reference server; give --base-url to test your implementation)")
    return unwritten


def _written(unwritten: list[str], option: str, path: str, write: Callable[[], T]) -> T | None:
    """``write()``, or None with why ``path`` (given as ``option``) could not be written noted in ``unwritten``."""
    try:
        return write()
    except OSError as exc:
        unwritten.append(f"{option} {path}: could not be written ({exc.strerror or exc})")
        return None
