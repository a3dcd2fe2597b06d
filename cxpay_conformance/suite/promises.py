"""The contract's promises and what verifies each: docs/contract-coverage.md.

``spec/promises.yaml`` lists every promise of the wire contract (auth, errors and their order,
each operation, idempotency, webhooks, the event list, the clock, what a merchant owns) with the
checks of :mod:`.checks` and the steps (``"actor: event"``, as stories name them) that verify
it. :func:`render` turns that list and the counts of a reference run into a Markdown table; a
promise with no verifier is a **gap**, and a verifier whose check or step never ran in the
reference run is **unexercised**. The counts are stored (``docs/contract-coverage.json``, written
by ``cxpay-conformance contract-coverage --reference-run``), so that checking the table for
staleness never depends on timing: only on the promises, the checks registry and that file.

>>> promises = load_promises()
>>> text = render(promises, ReferenceRun.read(DEFAULT_COUNTS))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cxpay_conformance.errors import UsageError
from cxpay_conformance.suite.checks import CHECKS

#: Where the promises are listed, the table is written, and the reference run's counts kept.
DEFAULT_PROMISES = Path(__file__).resolve().parents[2] / "spec" / "promises.yaml"
DEFAULT_PATH = Path("docs") / "contract-coverage.md"
DEFAULT_COUNTS = Path("docs") / "contract-coverage.json"
#: A step that stands for every step of a run.
EVERY_STEP = "*"
#: The reference run: what `contract-coverage --reference-run` runs (a seed, so that it draws the
#: same examples; the counts still vary a little with the ids the server draws, hence stored).
REFERENCE = {"profile": "ci", "seed": 1}


@dataclass(frozen=True, slots=True)
class Verifier:
    """A check of the suite and the step kind that exercises it for one promise."""

    check: str
    step: str


@dataclass(frozen=True, slots=True)
class Promise:
    id: str
    area: str
    promise: str
    verified_by: tuple[Verifier, ...]


@dataclass(frozen=True, slots=True)
class Promises:
    areas: Mapping[str, str]
    promises: tuple[Promise, ...]

    @property
    def gaps(self) -> list[Promise]:
        """The promises no check verifies."""
        return [p for p in self.promises if not p.verified_by]


@dataclass(frozen=True)
class ReferenceRun:
    """What a reference run counted: each check's runs and each step kind's steps."""

    checks: Mapping[str, int]
    steps: Mapping[str, int]
    about: Mapping[str, Any] = field(default_factory=dict)

    def count(self, verifier: Verifier) -> tuple[int, int]:
        """(runs of the check, steps of the kind) in the reference run."""
        steps = sum(self.steps.values()) if verifier.step == EVERY_STEP else self.steps.get(verifier.step, 0)
        return self.checks.get(verifier.check, 0), steps

    @classmethod
    def read(cls, path: Path) -> ReferenceRun:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the reference run's counts {path}: {exc}; write them with "
                             "`cxpay-conformance contract-coverage --reference-run`") from None
        return cls(data.get("checks", {}), data.get("steps", {}), data.get("about", {}))

    def write(self, path: Path) -> Path:
        data = {"about": dict(self.about), "checks": dict(sorted(self.checks.items())),
                "steps": dict(sorted(self.steps.items()))}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return path


def load_promises(path: Path = DEFAULT_PROMISES) -> Promises:
    """Read and check ``spec/promises.yaml``: known areas, unique ids, checks that exist."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read the promises {path}: {exc}") from None
    where = f"{path}"
    if not isinstance(data, dict) or not isinstance(data.get("promises"), list):
        raise UsageError(f"{where}: expected a mapping with 'areas' and a 'promises' list")
    areas = {str(k): str(v) for k, v in (data.get("areas") or {}).items()}
    promises, seen = [], set()
    for index, raw in enumerate(data["promises"]):
        ident = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(ident, str) or ident in seen:
            raise UsageError(f"{where}: promise {index + 1} needs an id of its own (got {ident!r})")
        seen.add(ident)
        if raw.get("area") not in areas:
            raise UsageError(f"{where}: promise {ident}: area {raw.get('area')!r} is not one of {', '.join(areas)}")
        verifiers = []
        for item in raw.get("verified_by") or ():
            check = item.get("check") if isinstance(item, dict) else None
            if check not in CHECKS:
                raise UsageError(f"{where}: promise {ident}: {check!r} is not a check of the suite; "
                                 f"the checks are: {', '.join(CHECKS)}")
            verifiers.append(Verifier(str(check), str(item.get("step", EVERY_STEP))))
        promises.append(Promise(ident, str(raw["area"]), str(raw.get("promise", "")).strip(), tuple(verifiers)))
    return Promises(areas, tuple(promises))


def unexercised(promises: Promises, run: ReferenceRun) -> list[tuple[Promise, Verifier]]:
    """The verifiers whose check or step never ran in the reference run."""
    return [(p, v) for p in promises.promises for v in p.verified_by if 0 in run.count(v)]


def render(promises: Promises, run: ReferenceRun) -> str:
    """docs/contract-coverage.md: one table per area, a promise a row, with its verifiers and counts."""
    about = run.about
    lines = [
        "# Contract coverage: every promise and what verifies it",
        "",
        "<!-- Generated by `cxpay-conformance contract-coverage` from spec/promises.yaml and the reference",
        "     run's counts in docs/contract-coverage.json; edit those, not this file. -->",
        "",
        "Each promise of the wire contract (the contract page and `spec/openapi.yaml`), the named check",
        "of the suite that verifies it (`cxpay-conformance run --list-checks`) and the step that exercises",
        "it, as stories name steps (`*`: every step). The counts come from one reference run "
        f"(`--profile {about.get('profile', '?')} --seed {about.get('seed', '?')}` against the embedded "
        "reference server,",
        f"{about.get('examples', '?')} examples): how often the check ran and how often the step was taken. "
        "They are stored, not",
        "measured when this file is checked: `cxpay-conformance contract-coverage --reference-run` runs it again.",
        "",
    ]
    gaps = promises.gaps
    idle = unexercised(promises, run)
    lines.append(f"{len(promises.promises)} promises, {len(gaps)} gap{'s' if len(gaps) != 1 else ''}, "
                 f"{len(idle)} verifier{'s' if len(idle) != 1 else ''} not exercised by the reference run.")
    for area, title in promises.areas.items():
        rows = [p for p in promises.promises if p.area == area]
        if not rows:
            continue
        lines += ["", f"## {title}", "", "| promise | check | step | runs of the check | steps |",
                  "|---|---|---|---|---|"]
        for promise in rows:
            text = f"**{promise.id}**: {_cell(promise.promise)}"
            if not promise.verified_by:
                lines.append(f"| {text} | **GAP: no check** | | | |")
                continue
            for index, verifier in enumerate(promise.verified_by):
                checks, steps = run.count(verifier)
                lead = text if index == 0 else ""
                lines.append(f"| {lead} | `{verifier.check}` | `{verifier.step}` | {checks} | {steps} |")
    if gaps:
        lines += ["", "## Gaps", "", *(f"- **{p.id}**: {_cell(p.promise)}" for p in gaps)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def counts_of(result: Any) -> ReferenceRun:
    """The counts of a :class:`~cxpay_conformance.suite.runner.SuiteResult` as a reference run."""
    about = {**REFERENCE, "examples": result.examples, "conformant": result.conformant}
    return ReferenceRun(dict(result.checks_run), dict(result.step_kinds), about)


def is_stale(promises: Promises, run: ReferenceRun, path: Path) -> bool:
    """Whether ``path`` differs from what :func:`render` makes now."""
    try:
        return path.read_text(encoding="utf-8") != render(promises, run)
    except OSError:
        return True


def write(promises: Promises, run: ReferenceRun, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(promises, run), encoding="utf-8")
    return path


__all__: Sequence[str] = ("DEFAULT_COUNTS", "DEFAULT_PATH", "DEFAULT_PROMISES", "Promise", "Promises",
                          "ReferenceRun", "Verifier", "counts_of", "is_stale", "load_promises", "render",
                          "unexercised", "write")
