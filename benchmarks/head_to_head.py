"""Head-to-head: Schemathesis and cxpay-conformance against every fault of the catalogue.

For each fault, and once with none, a fresh embedded reference server is started with that
fault and each tool gets it for the same time budget and the same seed, one after the other
(never at once):

* Schemathesis (pinned in ``_schemathesis.py``; installed into this interpreter when missing):
  ``schemathesis run spec/openapi.yaml`` with every phase (examples, coverage, fuzzing, and
  stateful testing over the document's links), every check, one worker, ``--max-time`` the
  budget, no shrinking and no health checks (as its benchmarking guide has it). Both
  merchants' keys are given as Web Fuzzing Commons identities and as peers, so that every
  operation (merchant API and test helpers alike) is authenticated and the
  ``object_level_authorization`` check can replay one merchant's reads as the other, as the
  suite gets a second merchant's key.
* cxpay-conformance: ``run_suite`` with the ``ci`` profile and ``time_budget`` the budget,
  every check, shrinking capped at 10 s as the self-test does.

Caught, for the suite: it reported a failure, and the first one came within the budget.
Caught, for Schemathesis: it reported a kind of failure that it does not report against the
correct server. Schemathesis knows no business state, so against the correct server it flags
correct answers (see the clean-server findings the script prints). Those kinds are its
baseline, recorded first from clean runs with other seeds and twice the budget, then from the
clean run with the benchmark's own seed (whose findings beyond the first runs are printed as
what the baseline missed); when Schemathesis caught any fault, more clean runs with yet other
seeds follow, and a kind they show is withdrawn from the catches. Read what is left against
each fault all the same: a false alarm none of the clean runs happened to show still counts
(docs/benchmarks.md has one). A kind is (check, failure code, operation, HTTP status, the
``error.code`` of the answer): every part is a fixed token, never an id or a message. The
error code is part of it because every POST already answers 400 ``idempotency_key_reused``
in the baseline, which would otherwise hide a wrong 400 ``invalid_state``; catches that only
this part tells apart are marked.

    flock /tmp/cxpay-heavy.lock python benchmarks/head_to_head.py   # every fault, 25 s each: ~40 min
    python benchmarks/head_to_head.py --budget 10 --fault session_not_completed
    python benchmarks/head_to_head.py --markdown head-to-head.md --json head-to-head.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _schemathesis import SCHEMATHESIS, Finding, TheirRun, ensure_schemathesis, run_schemathesis

CLEAN = "(no fault)"
#: Seconds Hypothesis may spend shrinking the suite's first failure (the self-test's cap).
SHRINK_BUDGET = 10
#: Extra clean Schemathesis runs, with other seeds and twice the budget, that make its baseline.
BASELINE_RUNS = 3
#: Clean runs with yet other seeds, after the faults, when Schemathesis caught any: a kind they
#: also show is a false alarm the baseline had missed, and the catches it made are withdrawn.
CONFIRM_RUNS = 4


# --- cxpay-conformance -----------------------------------------------------------------------


@dataclass
class OurRun:
    """One run of the suite: the failure it reported, if any, and when the first one came."""

    seconds: float
    first_failure: float | None
    check: str
    message: str
    examples: int


class _FirstFailure:
    """A suite listener noting when the first example fails (the self-test does the same);
    a failure at an example's end is seen when the next one starts, which shrinking does at once."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.at: float | None = None
        self._seen: Any = None

    def __call__(self, ctx: Any) -> None:
        if self.at is None and any(m is not None and m.failed for m in (self._seen, ctx.current)):
            self.at = time.monotonic() - self.started
        self._seen = ctx.current


def run_ours(base_url: str, api_key: str, second_api_key: str, budget: int, seed: int) -> OurRun:
    from cxpay_conformance.suite import SuiteConfig, run_suite
    from cxpay_conformance.suite._compat import shrinking_for_at_most

    config = SuiteConfig(base_url=base_url, embedded=True, api_key=api_key, second_api_key=second_api_key,
                         seed=seed, profile="ci", time_budget=budget, database=None, settle_timeout=0.0,
                         report_dir=tempfile.mkdtemp(prefix="h2h-report-"))
    watch = _FirstFailure()
    with shrinking_for_at_most(SHRINK_BUDGET):
        result = run_suite(config, listener=watch)
    seconds = time.monotonic() - watch.started
    failure = result.failure
    if failure is None:
        return OurRun(seconds, None, "", "", result.examples)
    first = watch.at if watch.at is not None else seconds
    return OurRun(seconds, first, failure.check, str(failure).splitlines()[0][:160], result.examples)


# --- the comparison --------------------------------------------------------------------------


@dataclass
class Row:
    fault: str
    family: str
    blind_spot: str
    theirs: TheirRun
    new: dict[Finding, float]
    ours: OurRun
    budget: int
    load: float
    coarse_baseline: set[tuple[str, str, str, int]] = field(default_factory=set)
    withdrawn: list[Finding] = field(default_factory=list)

    @property
    def schemathesis_caught(self) -> bool:
        return bool(self.new)

    @property
    def only_by_error_code(self) -> bool:
        """Caught only because the answer's error code differs from a baseline kind's."""
        return bool(self.new) and all(f.coarse in self.coarse_baseline for f in self.new)

    @property
    def ours_caught(self) -> bool:
        return self.ours.first_failure is not None and self.ours.first_failure <= self.budget

    def to_json(self) -> dict[str, Any]:
        return {
            "fault": self.fault, "family": self.family, "blind_spot": self.blind_spot,
            "schemathesis": {
                "caught": self.schemathesis_caught, "only_by_error_code": self.only_by_error_code,
                "first_new_failure_seconds": min(self.new.values()) if self.new else None,
                "seconds": round(self.theirs.seconds, 1), "exit_code": self.theirs.exit_code,
                "new": [{"kind": f.show(), "first_seconds": at} for f, at in sorted(self.new.items())],
                "withdrawn": [f.show() for f in self.withdrawn],
                "all": [f.show() for f in sorted(self.theirs.findings)],
                "stateful": self.theirs.stateful, "errors": self.theirs.errors,
                "accepted_2xx": dict(self.theirs.accepted),
            },
            "cxpay": {
                "caught": self.ours_caught, "first_failure_seconds": _round(self.ours.first_failure),
                "seconds": round(self.ours.seconds, 1), "check": self.ours.check,
                "message": self.ours.message, "examples": self.ours.examples,
            },
            "load_1min": round(self.load, 2),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def verdict_theirs(row: Row) -> str:
    if not row.new:
        return f"missed ({row.theirs.seconds:.0f} s)"
    mark = " †" if row.only_by_error_code else ""
    return f"**caught**{mark} ({min(row.new.values()):.1f} s)"


def verdict_ours(row: Row) -> str:
    if row.ours.first_failure is None:
        return f"missed ({row.ours.seconds:.0f} s)"
    if not row.ours_caught:
        return f"late ({row.ours.first_failure:.1f} s, past the budget)"
    return f"**caught** ({row.ours.first_failure:.1f} s)"


def flagged(row: Row) -> str:
    shown = [f.show() for f, _ in sorted(row.new.items(), key=lambda item: item[1])]
    more = f"; +{len(shown) - 3} more" if len(shown) > 3 else ""
    return "; ".join(shown[:3]) + more if shown else "-"


def markdown_table(rows: list[Row]) -> str:
    lines = ["| fault | family | Schemathesis | Schemathesis flagged (new kinds) | cxpay-conformance | check |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        if row.fault == CLEAN:
            theirs = (f"{len(row.theirs.findings)} kinds flagged, {len(row.new)} beyond the other seeds' "
                      f"baseline ({row.theirs.seconds:.0f} s)")
            ours = "conformant" if row.ours.first_failure is None else f"**false alarm** ({row.ours.check})"
            lines.append(f"| {CLEAN} | - | {theirs} | {flagged(row).replace('|', '/')} | {ours} "
                         f"({row.ours.seconds:.0f} s) | - |")
            continue
        family = f"{row.family} (blind spot)" if row.blind_spot else row.family
        lines.append(f"| `{row.fault}` | {family} | {verdict_theirs(row)} | {flagged(row).replace('|', '/')} "
                     f"| {verdict_ours(row)} | {row.ours.check or '-'} |")
    return "\n".join(lines)


def machine(schemathesis_version: str, loads: list[float]) -> str:
    from _harness import machine as harness_machine

    during = (f"1-minute load average during the runs: median {statistics.median(loads):.2f}, "
              f"min {min(loads):.2f}, max {max(loads):.2f} ({os.cpu_count()} CPUs)") if loads else ""
    return (f"{harness_machine()}; schemathesis {schemathesis_version}; "
            f"nproc {len(os.sched_getaffinity(0))}. {during}")


def record_baseline(baseline: dict[Finding, list[str]], seeds: range, budget: int, server: Any) -> None:
    """Add what Schemathesis flags on the correct server with each of ``seeds`` to ``baseline``."""
    for seed in seeds:
        with server() as clean:
            run = run_schemathesis(clean.base_url, clean.api_key, clean.second_api_key, budget, seed)
        for finding in run.findings:
            baseline.setdefault(finding, []).append(f"seed {seed}")
        print(f"clean run for the baseline, seed {seed}, {budget} s: {len(run.findings)} kinds, "
              f"stateful: {run.stateful}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=25, help="seconds per tool per fault (default 25)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault", action="append", default=[], help="only these faults (repeatable)")
    parser.add_argument("--baseline-runs", type=int, default=BASELINE_RUNS,
                        help=f"clean Schemathesis runs with other seeds for its baseline (default {BASELINE_RUNS})")
    parser.add_argument("--confirm-runs", type=int, default=CONFIRM_RUNS,
                        help=f"clean runs that confirm Schemathesis's catches (default {CONFIRM_RUNS})")
    parser.add_argument("--json", type=Path, help="also write every row as JSON")
    parser.add_argument("--markdown", type=Path, help="also write the table and totals as Markdown")
    args = parser.parse_args()

    version = ensure_schemathesis()
    if version != SCHEMATHESIS:
        print(f"warning: Schemathesis {version} is installed; this benchmark was written for "
              f"{SCHEMATHESIS} (pip install schemathesis=={SCHEMATHESIS})", flush=True)
    from cxpay_conformance.embedded import embedded_server
    from cxpay_conformance.server.faults import FAULTS

    unknown = [name for name in args.fault if name not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)}; see cxpay-conformance serve --list-faults")
    names = list(dict.fromkeys(args.fault)) or list(FAULTS)
    started_at = datetime.now(UTC)

    # The baseline: what Schemathesis flags on the correct server, from other seeds first.
    baseline: dict[Finding, list[str]] = {}
    seeds = range(args.seed + 1, args.seed + 1 + args.baseline_runs)
    record_baseline(baseline, seeds, args.budget * 2, embedded_server)

    rows: list[Row] = []
    loads: list[float] = []
    for name in [CLEAN, *names]:
        faults = () if name == CLEAN else (name,)
        fault = FAULTS.get(name)
        try:
            with embedded_server(faults=faults) as server:
                theirs = run_schemathesis(server.base_url, server.api_key, server.second_api_key,
                                          args.budget, args.seed)
            loads.append(os.getloadavg()[0])
            with embedded_server(faults=faults) as server:
                ours = run_ours(server.base_url, server.api_key, server.second_api_key, args.budget, args.seed)
            loads.append(os.getloadavg()[0])
        except Exception as exc:  # one broken run must not lose the others: say so, go on
            print(f"{name}: not measured, {type(exc).__name__}: {exc}", flush=True)
            continue
        new = theirs.new(set(baseline))
        row = Row(name, fault.family if fault else "-", fault.blind_spot if fault else "", theirs, new, ours,
                  args.budget, loads[-1], {f.coarse for f in baseline})
        rows.append(row)
        if name == CLEAN:
            # Held out: what the other seeds' baseline missed is printed, then joins the baseline.
            for finding in theirs.findings:
                baseline.setdefault(finding, []).append(f"seed {args.seed}")
        if args.json:  # as it goes, so that an interrupted run keeps what it measured
            args.json.write_text(json.dumps([r.to_json() for r in rows], indent=2) + "\n", encoding="utf-8")
        if name == CLEAN:
            print(f"{name}: Schemathesis flagged {len(theirs.findings)} kinds ({len(new)} beyond the other "
                  f"seeds' baseline; {theirs.stateful}); cxpay-conformance "
                  f"{'conformant' if ours.first_failure is None else 'FALSE ALARM ' + ours.check}", flush=True)
        else:
            print(f"{name}: Schemathesis {verdict_theirs(row)} [{flagged(row)}; {theirs.stateful}]; "
                  f"cxpay-conformance {verdict_ours(row)} {ours.check}", flush=True)

    clean, faulty = rows[0], rows[1:]
    if any(r.schemathesis_caught for r in faulty) and args.confirm_runs:
        first = args.seed + args.baseline_runs + 1
        record_baseline(baseline, range(first, first + args.confirm_runs), args.budget, embedded_server)
        for row in faulty:
            row.withdrawn = sorted(f for f in row.new if f in baseline)
            row.new = row.theirs.new(set(baseline))
            row.coarse_baseline = {f.coarse for f in baseline}
            if row.withdrawn:
                print(f"{row.fault}: withdrawn, seen on the correct server too: "
                      f"{'; '.join(f.show() for f in row.withdrawn)}", flush=True)
        if args.json:
            args.json.write_text(json.dumps([r.to_json() for r in rows], indent=2) + "\n", encoding="utf-8")
    withdrawn = [f"`{r.fault}` ({'; '.join(f.show() for f in r.withdrawn)})" for r in faulty if r.withdrawn]
    sequential = [r for r in faulty if not r.blind_spot]
    totals = (f"Of {len(faulty)} faults ({len(sequential)} visible to a sequential tool): Schemathesis caught "
              f"{sum(r.schemathesis_caught for r in faulty)} "
              f"({sum(r.only_by_error_code for r in faulty)} of them marked †), cxpay-conformance caught "
              f"{sum(r.ours_caught for r in faulty)}; "
              f"both {sum(r.schemathesis_caught and r.ours_caught for r in faulty)}, "
              f"only Schemathesis {sum(r.schemathesis_caught and not r.ours_caught for r in faulty)}, "
              f"only cxpay-conformance {sum(r.ours_caught and not r.schemathesis_caught for r in faulty)}, "
              f"neither {sum(not r.schemathesis_caught and not r.ours_caught for r in faulty)}. "
              f"Budget {args.budget} s per tool per fault, seed {args.seed}.")
    clean_lines = [f"- {f.show()}: first at {at:.1f} s; also in the baseline runs: "
                   f"{', '.join(s for s in baseline[f] if s != f'seed {args.seed}') or 'no'}"
                   for f, at in sorted(clean.theirs.findings.items())]
    accepted = ", ".join(f"{op} {n}" for op, n in sorted(clean.theirs.accepted.items()))
    out = "\n".join([
        markdown_table(rows), "",
        totals, "",
        "† caught only because the answer's `error.code` differs from a kind in the baseline.", "",
        f"Kinds withdrawn because the {args.confirm_runs} confirmation runs on the correct server showed them "
        f"too: {', '.join(withdrawn) or 'none'}.", "",
        f"Schemathesis on the correct server, seed {args.seed}, {args.budget} s "
        f"(exit code {clean.theirs.exit_code}; stateful phase: {clean.theirs.stateful}; "
        f"kinds the other seeds' baseline missed: {len(clean.new)}):",
        *clean_lines, "",
        f"2xx answers Schemathesis got on the correct server: {accepted}", "",
        f"Started {started_at:%Y-%m-%d %H:%M} UTC, ended {datetime.now(UTC):%H:%M} UTC.",
        f"Machine: {machine(version, loads)}",
        f"Command (from the repository's root): python benchmarks/head_to_head.py {' '.join(sys.argv[1:])}",
    ])
    print()
    print(out)
    if args.markdown:
        args.markdown.write_text(out + "\n", encoding="utf-8")
    if args.json:
        document = {"budget": args.budget, "seed": args.seed, "schemathesis": version,
                    "baseline": {f.show(): seeds for f, seeds in sorted(baseline.items())},
                    "rows": [row.to_json() for row in rows]}
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
