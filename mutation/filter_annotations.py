"""Before the run, set aside the mutants that are not real: those that only change a type
annotation (equivalent) and those that are not valid Python (invalid).

Every mutated module starts with ``from __future__ import annotations`` (PEP 563), so Python
never evaluates its annotations: ``CheckoutSession | None`` mutated to ``CheckoutSession + None``
in a signature or a dataclass field changes no behaviour at all, and such mutants make up a
third of what Cosmic Ray generates. This filter records them in the session as skipped, with
the output ``equivalent: annotation``; ``report.py`` counts them as equivalent. A module without
the future import is left alone (its annotations are evaluated, so those mutants are real).

Cosmic Ray 8.7 also treats the ``*`` of a keyword-only marker and the ``**`` of a dict display
as binary operators, so ``def f(a, *, b)`` becomes ``def f(a, -, b)``: a SyntaxError that any
test "kills". Such a mutant is marked skipped with the output ``invalid: ...`` and counted
nowhere (``report.py`` lists how many).

Run with the Python that has Cosmic Ray, from the repository copy the session was made in:

    python mutation/filter_annotations.py session.sqlite
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import cosmic_ray.plugins
from cosmic_ray.mutating import mutate_code
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult

MARK = "equivalent: annotation (PEP 563: never evaluated)"
INVALID = "invalid: the mutant is not valid Python"

Span = tuple[tuple[int, int], tuple[int, int]]


def _annotations(tree: ast.Module) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.returns is not None:
                yield node.returns
            arguments = node.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                        arguments.vararg, arguments.kwarg):
                if arg is not None and arg.annotation is not None:
                    yield arg.annotation
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def _postponed(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
               and any(alias.name == "annotations" for alias in node.names) for node in tree.body)


@cache
def annotation_spans(module_path: str) -> tuple[Span, ...]:
    """(start, end) positions, as (line, column), of every unevaluated annotation in a module."""
    tree = ast.parse(Path(module_path).read_text(encoding="utf-8"))
    if not _postponed(tree):
        return ()
    return tuple(((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0))
                 for a in _annotations(tree))


def in_annotation(module_path: str, start: tuple[int, int], end: tuple[int, int]) -> bool:
    return any(lo <= start and end <= hi for lo, hi in annotation_spans(module_path))


def is_valid_python(module_path: str, operator_name: str, occurrence: int) -> bool:
    source = _source(module_path)
    mutated = mutate_code(source, cosmic_ray.plugins.get_operator(operator_name)(), occurrence)
    if mutated is None:
        return True  # nothing to apply: Cosmic Ray reports it as no-test itself
    try:
        with warnings.catch_warnings():  # "is" with a literal and the like: valid, if odd
            warnings.simplefilter("ignore", SyntaxWarning)
            compile(mutated, module_path, "exec")
    except SyntaxError:
        return False
    return True


@cache
def _source(module_path: str) -> str:
    return Path(module_path).read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    marked = invalid = 0
    with use_db(argv[0], WorkDB.Mode.open) as db:
        for item in db.pending_work_items:
            if all(in_annotation(str(m.module_path), m.start_pos, m.end_pos) for m in item.mutations):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=MARK))
                marked += 1
            elif not all(is_valid_python(str(m.module_path), m.operator_name, m.occurrence) for m in item.mutations):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=INVALID))
                invalid += 1
    print(f"{marked} mutants only change an annotation: marked equivalent")
    print(f"{invalid} mutants are not valid Python: set aside")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
