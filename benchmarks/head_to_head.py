"""Head-to-head: Schemathesis and cxpay-conformance against every fault of the catalogue.

For each fault (and once with none, to count false alarms), the embedded reference server is
started with that fault and each tool gets the same time budget:

* Schemathesis: ``schemathesis run spec/openapi.yaml`` with every phase (examples, coverage,
  fuzzing, and stateful testing over the document's links), every check, ``--max-time``;
  caught = a non-zero exit.
* cxpay-conformance: ``run_suite`` with ``time_budget``; caught = not conformant.

The script installs Schemathesis when it is missing, prints a Markdown table (fault, family,
caught by each tool, time, what Schemathesis flagged) and the totals.

    python benchmarks/head_to_head.py                  # every fault, 20 s each
    python benchmarks/head_to_head.py --budget 10 --fault session_not_completed
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

CLEAN = "(no fault)"


@dataclass
class Verdict:
    caught: bool
    seconds: float
    detail: str


def ensure_schemathesis() -> None:
    if importlib.util.find_spec("schemathesis") is None:
        print("installing schemathesis ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "schemathesis"], check=True)


def run_schemathesis(base_url: str, key: str, budget: int, seed: int, baseline: Path, *,
                     record: bool = False) -> Verdict:
    """One Schemathesis run; failures it already reported on the clean server (its baseline,
    recorded with ``record=True``) do not count, so only what the fault adds does."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", str(ROOT / "spec" / "openapi.yaml"),
            "--url", base_url, "--header", f"Authorization: Bearer {key}",
            "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
            "--max-time", str(budget), "--seed", str(seed), "--workers", "1",
            "--no-color", "--baseline", str(baseline), *(["--baseline-update"] if record else []),
        ]
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, cwd=scratch,
                                timeout=budget * 4 + 120)
        elapsed = time.monotonic() - started
    flagged = sorted(set(re.findall(r"^\s*-?\s*([A-Z][A-Za-z -]+(?:error|failure|conformance|violation|"
                                    r"server error|schema|accepted|rejected|authorization|auth)[^\n]*)$",
                                    result.stdout, re.MULTILINE)))[:3]
    detail = "; ".join(f.strip()[:60] for f in flagged) or (result.stdout.strip().splitlines() or [""])[-1][:80]
    return Verdict(result.returncode != 0, elapsed, detail)


def run_ours(base_url: str, key: str, second: str, budget: int, seed: int) -> Verdict:
    from cxpay_conformance.suite import SuiteConfig, run_suite

    started = time.monotonic()
    result = run_suite(SuiteConfig(base_url=base_url, embedded=True, api_key=key, second_api_key=second,
                                   seed=seed, profile="ci", time_budget=budget, database=None,
                                   settle_timeout=0.0, webhook_timeout=2.0,
                                   report_dir=tempfile.mkdtemp(prefix="h2h-")))
    elapsed = time.monotonic() - started
    failure = result.failure
    return Verdict(failure is not None, elapsed, f"{failure.check}: {str(failure)[:60]}" if failure else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=20, help="seconds per tool per fault (default 20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault", action="append", default=[], help="only these faults (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()

    ensure_schemathesis()
    from cxpay_conformance.embedded import embedded_server
    from cxpay_conformance.server.faults import FAULTS

    names = [n for n in args.fault or FAULTS if n != CLEAN]
    baseline = Path(tempfile.mkdtemp(prefix="h2h-baseline-")) / "schemathesis-baseline.json"
    # Schemathesis knows no business state: on the clean server it reports schema-valid
    # requests refused for their state (a 409) and reused Idempotency-Keys. Those are recorded
    # first, over twice the budget, as its accepted baseline; then the clean server is run
    # again against the baseline to show how many false alarms remain.
    with embedded_server() as server:
        recorded = run_schemathesis(server.base_url, server.api_key, args.budget * 2, args.seed, baseline,
                                    record=True)
    print(f"Schemathesis baseline on the clean server: {recorded.detail or 'nothing'}", flush=True)
    names = [CLEAN, *names]
    rows = []
    print("| fault | family | Schemathesis | cxpay-conformance | Schemathesis flagged |")
    print("|---|---|---|---|---|")
    for name in names:
        faults = () if name == CLEAN else (name,)
        family = "-" if name == CLEAN else FAULTS[name].family
        with embedded_server(faults=faults) as server:
            theirs = run_schemathesis(server.base_url, server.api_key, args.budget, args.seed, baseline)
        with embedded_server(faults=faults) as server:
            ours = run_ours(server.base_url, server.api_key, server.second_api_key, args.budget, args.seed)
        rows.append({"fault": name, "family": family, "schemathesis": theirs.caught,
                     "schemathesis_seconds": round(theirs.seconds, 1), "schemathesis_detail": theirs.detail,
                     "cxpay": ours.caught, "cxpay_seconds": round(ours.seconds, 1), "cxpay_detail": ours.detail})

        def mark(v: Verdict, clean: bool = name == CLEAN) -> str:
            if clean:
                return f"{'false alarm' if v.caught else 'quiet'} ({v.seconds:.0f}s)"
            return f"{'caught' if v.caught else 'missed'} ({v.seconds:.0f}s)"

        print(f"| {name} | {family} | {mark(theirs)} | {mark(ours)} | {theirs.detail.replace('|', '/')} |",
              flush=True)
    faulty = [r for r in rows if r["fault"] != CLEAN]
    print()
    print(f"Schemathesis caught {sum(r['schemathesis'] for r in faulty)}/{len(faulty)}; "
          f"cxpay-conformance caught {sum(r['cxpay'] for r in faulty)}/{len(faulty)} "
          f"(budget {args.budget}s each, seed {args.seed}).")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
