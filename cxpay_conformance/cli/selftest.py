"""`cxpay-conformance selftest`: prove the suite's power against the reference server's own
injected faults.

Runs the suite once per fault of the catalogue (``cxpay-conformance serve --list-faults``) and
once with no fault, and prints a table: caught or not, by which check, how soon, and how short
the shrunk story is. Exit codes: 0 every fault caught and the clean run conformant, 1 a fault
missed or a false positive, 2 usage error.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from cxpay_conformance.cli._common import EXIT_FINDINGS, EXIT_OK, reported_errors
from cxpay_conformance.cli._progress import LogLines, RunningClock, heartbeat, report_console
from cxpay_conformance.selftest import (
    CLEAN,
    NEEDS_PROFILE,
    FaultOutcome,
    SelftestOptions,
    SelftestResult,
    chosen_faults,
    profile_for,
    run_selftest,
)
from cxpay_conformance.suite.config import PROFILES


@click.command()
@click.option("--profile", type=click.Choice(list(PROFILES)), default="ci", show_default=True,
              help="How hard the suite tries against each fault: "
              + ", ".join(f"{k} = {v[0]} examples x {v[1]} steps" for k, v in PROFILES.items()) + ".")
@click.option("--fault", "faults", multiple=True, metavar="NAME",
              help="Only this fault (repeat for more); default: every fault the suite can catch.")
@click.option("--seed", type=int, help="Seed of every run (default: random, printed).")
@click.option("--time-budget", type=click.FloatRange(min=1), default=120.0, show_default=True, metavar="SECONDS",
              help="Per fault: stop starting new examples after this long if nothing failed yet "
              "(twice as long for a fault that runs with a stronger profile).")
@click.option("--shrink-budget", type=click.IntRange(min=1), default=10, show_default=True, metavar="SECONDS",
              help="Per fault: the longest time spent shrinking a failure to its shortest story.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Runs at once, each in its own process (default: the number of CPUs).")
@click.option("--no-clean-run", is_flag=True,
              help="Skip the run without faults (which proves the suite raises no false alarm).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="Write the results as JSON.")
def selftest(profile: str, faults: tuple[str, ...], seed: int | None, time_budget: float, shrink_budget: int,
             jobs: int | None, no_clean_run: bool, json_path: str | None) -> None:
    """Prove the suite catches bugs: run it against the reference server with each injected
    fault, and once without any.

    \b
    Examples:
      cxpay-conformance selftest                              # the whole catalogue
      cxpay-conformance selftest --fault session_not_completed --seed 1
      cxpay-conformance selftest --profile thorough --json selftest.json
    """
    console = report_console()
    with reported_errors():
        chosen, blind_spots = chosen_faults(faults)
        options = SelftestOptions(
            faults=faults, profile=profile, seed=seed, time_budget=time_budget, shrink_budget=shrink_budget,
            jobs=jobs or os.cpu_count() or 1, clean_run=not no_clean_run,
        )
        runs = len(chosen) + (0 if no_clean_run else 1)
        examples, steps = PROFILES[profile]
        console.print(f"Self-test: {len(chosen)} fault(s){'' if no_clean_run else ' and a clean run'}, "
                      f"profile {profile} ({examples} examples x {steps} steps), at most {time_budget:g} s "
                      f"exploring and {shrink_budget} s shrinking each, {options.jobs} at once.")
        promoted = [f.name for f in chosen if profile_for(f.name, profile) != profile]
        if promoted:
            console.print(f"With the stronger profile they need: {', '.join(promoted)} (see the notes below).")
        result = _run_with_progress(options, runs, console)
    _print_table(result, console)
    for outcome in result.outcomes:
        if outcome.profile != profile and outcome.fault in NEEDS_PROFILE:
            console.print(f"[yellow]ran with {outcome.profile}[/]: {outcome.fault}: {NEEDS_PROFILE[outcome.fault][1]}")
    for fault in blind_spots:
        console.print(f"[yellow]not run[/]: {fault.name} ({fault.family}): {fault.blind_spot}")
    if json_path:
        Path(json_path).write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    _print_verdict(result, console)
    sys.exit(EXIT_OK if result.ok else EXIT_FINDINGS)


def _run_with_progress(options: SelftestOptions, runs: int, console: Console) -> SelftestResult:
    progress = Progress(
        TextColumn("[bold]faults"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
        RunningClock(), console=console, transient=False, disable=not console.is_terminal,
    )
    # Not a terminal (a CI log): a line for each run as it ends, and one every few seconds
    # from a thread in between, since one run can last minutes.
    log, done = LogLines(console), list[str]()

    def line() -> str:
        last = f" (last: {done[-1]})" if done else ""
        return f"progress: {len(done)}/{runs} runs done{last}, {log.elapsed}"

    with progress, contextlib.nullcontext() if console.is_terminal else heartbeat(log, line):
        task = progress.add_task("selftest", total=runs, last="")

        def on_outcome(outcome: FaultOutcome) -> None:
            verdict = "caught" if outcome.caught else "missed"
            if outcome.fault == CLEAN:
                verdict = "false alarm" if outcome.caught or outcome.error else "conformant"
            done.append(f"{outcome.fault}: {verdict}")
            progress.update(task, advance=1, last=done[-1])
            if not console.is_terminal:
                log.tick(line, now=True)

        return run_selftest(options, on_outcome=on_outcome)


def _print_table(result: SelftestResult, console: Console) -> None:
    table = Table(title=f"Self-test, profile {result.options.profile}, seed {result.seed}")
    for column in ("fault", "expected", "caught", "by check"):
        table.add_column(column)
    for column in ("first failure", "story steps", "examples", "run"):
        table.add_column(column, justify="right")
    rows = ([result.clean] if result.clean else []) + result.outcomes
    for outcome in rows:
        table.add_row(*_row(outcome, result.options.profile))
    console.print(table)


def _row(outcome: FaultOutcome, profile: str) -> list[str]:
    clean = outcome.fault == CLEAN
    if outcome.error:
        caught = "[red]error[/]"
    elif clean:
        caught = "[red]FALSE ALARM[/]" if outcome.caught else "[green]conformant[/]"
    else:
        caught = "[green]yes[/]" if outcome.caught else "[red]MISSED[/]"
        if outcome.flaky:
            caught += " (flaky)"
    check = outcome.first_check or outcome.check or "-"
    if outcome.check and outcome.check != check:
        check += f" (story: {outcome.check})"
    if outcome.caught and not clean and not outcome.expected_check:
        check = f"[yellow]{check}[/]"
    if outcome.skipped_checks:
        check += f" ({', '.join(outcome.skipped_checks)} off)"
    first = f"{outcome.first_failure:.1f} s" if outcome.first_failure is not None else "-"
    steps = str(outcome.story_steps) if outcome.story_steps is not None else "-"
    examples = str(outcome.examples_to_failure if outcome.caught else outcome.examples)
    name = outcome.fault
    if not clean and outcome.profile != profile:
        name += f" ({outcome.profile})"
    return [name, outcome.family or "-", caught, check, first, steps, examples, f"{outcome.duration:.1f} s"]


def _print_verdict(result: SelftestResult, console: Console) -> None:
    caught = sum(1 for outcome in result.outcomes if outcome.caught)
    console.print(f"{caught}/{len(result.outcomes)} faults caught in {result.duration:.0f} s; seed {result.seed}.")
    for outcome in result.outcomes:
        if outcome.error:
            console.print(f"[red]error[/] {outcome.fault}: {outcome.error}")
    if result.missed:
        console.print("[red bold]MISSED[/]: " + ", ".join(outcome.fault for outcome in result.missed)
                      + f" (replay one: cxpay-conformance selftest --fault NAME --seed {result.seed})")
    if result.false_positive and result.clean is not None:
        console.print(f"[red bold]FALSE ALARM[/]: the suite failed against the server without faults: "
                      f"{result.clean.error or result.clean.message}")
    if result.ok:
        console.print("[green bold]SELFTEST PASSED[/]: every fault caught, and the clean run conformed.")
    else:
        console.print("[red bold]SELFTEST FAILED[/]")
