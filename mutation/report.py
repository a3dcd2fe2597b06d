"""The mutation run's report, in Markdown: totals, the score, kills per check, and every mutant
that was not killed with its verdict from ``mutation/verdicts.toml``.

It reads the Cosmic Ray session database with the standard library only, so it runs with any
Python 3.11:

    python3 mutation/report.py SESSION.sqlite [--verdicts mutation/verdicts.toml]
                               [--confirm SESSION-confirm.sqlite]

``--confirm`` reads the second pass of ``run.sh`` (the survivors tested again with a deeper
budget): a survivor killed there is counted as "killed by the deeper pass", apart.

A verdict names a mutant by module, operator and occurrence (Cosmic Ray's own identity of a
mutant) and repeats the mutated line, so that a verdict left stale by a change of the server is
reported instead of silently applied. The verdicts:

- ``equivalent``: no implementation detail the contract can see changes (reason required);
- ``unkillable``: it changes something, but nothing the API contract specifies (log text, a
  message the spec leaves free): counted with the equivalent ones, listed apart;
- ``missed``: a real survivor, a blind spot of the suite that the reason explains; it counts
  as not killed;
- ``killed-by-fix``: the suite as it is now kills it; ``proof`` says which re-run showed it.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

VERDICTS = ("equivalent", "unkillable", "missed", "killed-by-fix")


@dataclass(frozen=True)
class Mutant:
    job_id: str
    module: str
    operator: str
    occurrence: int
    line: int
    original: str
    mutated: str
    outcome: str  # killed, timeout, survived, annotation, not-sampled, pending, error
    output: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.module, self.operator, self.occurrence)

    @property
    def operator_short(self) -> str:
        return self.operator.removeprefix("core/")


def _changed_lines(diff: str | None) -> tuple[str, str]:
    if not diff:
        return "", ""
    minus = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    plus = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(minus), " / ".join(plus)


def _outcome(worker: str | None, test: str | None, output: str | None) -> str:
    worker, test, output = (worker or "").lower(), (test or "").lower(), output or ""
    if not worker:
        return "pending"
    if worker == "skipped":
        if output.startswith("equivalent: annotation"):
            return "annotation"
        return "invalid" if output.startswith("invalid:") else "not-sampled"
    if worker != "normal":
        return "error"
    if test == "survived":
        return "survived"
    if test == "killed":
        return "timeout" if output.strip() == "timeout" else "killed"
    return "error"


def load_mutants(session: Path) -> list[Mutant]:
    db = sqlite3.connect(f"file:{session}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT m.job_id, m.module_path, m.operator_name, m.occurrence, m.start_pos_row, "
        "r.worker_outcome, r.test_outcome, r.output, r.diff "
        "FROM mutation_specs m LEFT JOIN work_results r ON r.job_id = m.job_id"
    ).fetchall()
    mutants = []
    for job_id, module, operator, occurrence, line, worker, test, output, diff in rows:
        original, mutated = _changed_lines(diff)
        mutants.append(Mutant(job_id, module, operator, occurrence, line, original, mutated,
                              _outcome(worker, test, output), (output or "").strip()))
    return sorted(mutants, key=lambda m: (m.module, m.line, m.operator, m.occurrence))


def load_verdicts(path: Path | None) -> dict[tuple[str, str, int], dict[str, str]]:
    if path is None or not path.exists():
        return {}
    verdicts = {}
    for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("mutant", []):
        if entry.get("verdict") not in VERDICTS:
            raise SystemExit(f"{path}: verdict {entry.get('verdict')!r} is not one of {', '.join(VERDICTS)}")
        verdicts[(entry["module"], entry["operator"], int(entry["occurrence"]))] = entry
    return verdicts


def killed_by(output: str) -> str:
    match = re.search(r"KILLED by ([\w-]+)", output)
    return match.group(1) if match else "other (exit code)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def render(mutants: list[Mutant], verdicts: dict[tuple[str, str, int], dict[str, str]],
           confirmed: dict[str, Mutant] | None = None) -> str:
    confirmed = confirmed or {}
    deeper = [m for m in mutants if m.outcome == "survived"
              and confirmed.get(m.job_id, m).outcome in ("killed", "timeout")]
    deeper_ids = {m.job_id for m in deeper}
    counts = Counter(m.outcome for m in mutants)
    survivors = [m for m in mutants if m.outcome == "survived" and m.job_id not in deeper_ids]
    judged = {m.key: verdicts[m.key] for m in survivors if m.key in verdicts}
    stale = [m for m in survivors if m.key in judged and judged[m.key].get("mutant", m.mutated) != m.mutated]
    by_verdict = Counter(v["verdict"] for v in judged.values())
    generated = len(mutants) - counts["not-sampled"] - counts["invalid"]
    equivalent = counts["annotation"] + by_verdict["equivalent"] + by_verdict["unkillable"]
    killed = counts["killed"] + counts["timeout"]
    relevant = generated - equivalent
    lines = ["## Totals", "", "| | mutants |", "|---|---:|"]
    rows = [
        ("generated (in the run" + (", sampled" if counts["not-sampled"] else "") + ")", generated),
        ("killed by a check", counts["killed"]),
        ("killed by timeout", counts["timeout"]),
        ("survived the first pass", counts["survived"]),
        ("... of which killed by the deeper second pass (`--confirm`)", len(deeper)),
        ("survived both passes", len(survivors)),
        ("equivalent: annotation only (filtered before the run)", counts["annotation"]),
        ("equivalent: survivors judged equivalent", by_verdict["equivalent"]),
        ("unkillable through the contract (counted as equivalent)", by_verdict["unkillable"]),
        ("survivors killed by the suite as it is now (`killed-by-fix`)", by_verdict["killed-by-fix"]),
        ("survivors without a verdict", len(survivors) - len(judged)),
        ("errors (the mutation or the worker failed)", counts["error"]),
        ("pending (not run yet)", counts["pending"]),
    ]
    rows.append(("not valid Python (Cosmic Ray's `*`/`**` mutants; left out of every count above)",
                 counts["invalid"]))
    if counts["not-sampled"]:
        rows.append(("not sampled (left out of every count above)", counts["not-sampled"]))
    lines += [f"| {name} | {value} |" for name, value in rows]
    if relevant:
        lines += ["", f"**Score, first pass** = killed / (generated - equivalent) = {killed} / {relevant} = "
                  f"**{100 * killed / relevant:.1f}%**"]
        if deeper or by_verdict["killed-by-fix"]:
            both = killed + len(deeper) + by_verdict["killed-by-fix"]
            lines += ["", f"**Score, both passes** = {both} / {relevant} = **{100 * both / relevant:.1f}%**"]
    lines += ["", "## Kills per check (the check that failed first)", "", "| check | killed |", "|---|---:|"]
    lines += [f"| {check} | {n} |" for check, n in
              Counter(killed_by(m.output) for m in mutants if m.outcome == "killed").most_common()]
    per_module = Counter((m.module, m.outcome) for m in mutants)
    lines += ["", "## Per module", "", "| module | generated | annotation | killed | timeout | survived |",
              "|---|---:|---:|---:|---:|---:|"]
    for module in sorted({m.module for m in mutants}):
        n = sum(per_module[(module, o)] for o in ("killed", "timeout", "survived", "annotation", "error", "pending"))
        lines.append(f"| `{module}` | {n} | {per_module[(module, 'annotation')]} | {per_module[(module, 'killed')]} "
                     f"| {per_module[(module, 'timeout')]} | {per_module[(module, 'survived')]} |")
    if deeper:
        lines += ["", "## Killed only by the deeper second pass", "", "| module:line | operator | mutant | killed by |",
                  "|---|---|---|---|"]
        lines += [f"| `{m.module}:{m.line}` | {m.operator_short} | `{_cell(m.mutated)}` | "
                  f"{killed_by(confirmed[m.job_id].output)} |" for m in deeper]
    timeouts = [m for m in mutants if m.outcome == "timeout"]
    if timeouts:
        lines += ["", "## Killed by timeout", "", "| module:line | operator | mutant |", "|---|---|---|"]
        lines += [f"| `{m.module}:{m.line}` | {m.operator_short} | `{_cell(m.mutated)}` |" for m in timeouts]
    lines += ["", "## Survivors and verdicts", ""]
    if not survivors:
        lines.append("None.")
    else:
        lines += ["| module:line | operator #occ | original -> mutant | verdict | reason |", "|---|---|---|---|---|"]
        for m in survivors:
            verdict = judged.get(m.key, {})
            flag = " (STALE: the mutant differs from the verdict's)" if m in stale else ""
            lines.append(f"| `{m.module}:{m.line}` | {m.operator_short} #{m.occurrence} | "
                         f"`{_cell(m.original)}` -> `{_cell(m.mutated)}` | "
                         f"{verdict.get('verdict', '**none**')}{flag} | {_cell(verdict.get('reason', ''))} |")
    errors = [m for m in mutants if m.outcome == "error"]
    if errors:
        lines += ["", "## Errors", ""] + [f"- `{m.module}:{m.line}` {m.operator_short}: {m.output[:200]}"
                                          for m in errors]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("session", type=Path)
    parser.add_argument("--verdicts", type=Path, default=Path(__file__).with_name("verdicts.toml"))
    parser.add_argument("--confirm", type=Path, help="the session of the deeper second pass")
    args = parser.parse_args(argv)
    confirmed = {m.job_id: m for m in load_mutants(args.confirm)} if args.confirm else {}
    sys.stdout.write(render(load_mutants(args.session), load_verdicts(args.verdicts), confirmed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
