"""A failing concurrent history in words: the requests sent at once side by side.

The concurrent phase (:mod:`.races`) leaves in a :class:`~.runner.SuiteResult` the prefix's steps
and exchanges, then one step and one exchange per request sent at once, and ``branches``: which
exchanges went at once, on which branch and when. :func:`race_table` draws those requests one
column per branch, in the order they were sent, for :func:`~.report.story`; :func:`race_json`
lists them for ``report.json``.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

from cxpay_conformance.suite.context import Step
from cxpay_conformance.suite.repro_text import said
from cxpay_conformance.suite.runner import SuiteResult

#: The width of a story's table of the requests sent at once, and its narrowest column.
TABLE_WIDTH = 110
NARROWEST = 30  # room for 'sent 1234 ms, answered 1290 ms'

_BRANCH_STORY = re.compile(r"^branch \d+, (?P<story>.*?)(?: \[\d+-\d+ ms\])?$", re.DOTALL)


def concurrent(result: SuiteResult) -> bool:
    """Whether ``result`` failed in a concurrent history (it has requests sent at once)."""
    return result.failure is not None and bool(result.branches)


def race_table(result: SuiteResult) -> list[str]:
    """The requests sent at once, one column per branch, one row per request in the order they
    were sent, each with when it was sent and answered and the answer.

    >>> print("\\n".join(race_table(result)))  # doctest: +SKIP
    step | branch 1                      | branch 2
    -----+-------------------------------+------------------------------
       3 |                               | customer: pay cs_... with card_number=4000000000000002
         |                               | sent 1 ms, answered 62 ms
         |                               | -> 200 processing
    """
    rows = at_once(result)
    branches = sorted({branch for _index, _step, branch, _sent, _end in rows})
    columns = {branch: column for column, branch in enumerate(branches)}
    width = max(NARROWEST, (TABLE_WIDTH - 5) // len(branches) - 3)
    header = ["step"] + [f"branch {b + 1}" for b in branches]
    lines = [_row(header, width), "-----+" + "+".join(["-" * (width + 2)] * len(branches))]
    for index, step, branch, sent, answered in rows:
        exchange = result.exchanges[index]
        text = [*textwrap.wrap(step_text(step), width), f"sent {sent * 1000:.0f} ms, answered {answered * 1000:.0f} ms",
                *textwrap.wrap(f"-> {said(exchange)}", width)]
        for line_number, text_line in enumerate(text):
            cells = [str(step.number) if step and line_number == 0 else ""] + [""] * len(branches)
            cells[1 + columns[branch]] = text_line
            lines.append(_row(cells, width))
    return lines


def at_once(result: SuiteResult) -> list[tuple[int, Step | None, int, float, float]]:
    """The requests sent at once, in the order they were sent: (index in ``exchanges``, its step
    of the story, branch (0-based), sent, answered), the times in seconds since the release."""
    indexes = sorted(result.branches)
    # One story step per request sent at once, after the prefix's steps, in the order of the calls.
    steps: list[Step | None] = list(result.story[len(result.story) - len(indexes):]) \
        if len(result.story) >= len(indexes) else [None] * len(indexes)
    rows = [(index, step, *result.branches[index]) for index, step in zip(indexes, steps, strict=True)]
    return sorted(rows, key=lambda row: (row[3], row[0]))


def step_text(step: Step | None) -> str:
    """A branch step's story without its branch and times (the table's columns and rows say them)."""
    if step is None:
        return ""
    found = _BRANCH_STORY.match(step.story)
    return found.group("story") if found else step.story


def _row(cells: list[str], width: int) -> str:
    return (f"{cells[0]:>4} | " + " | ".join(f"{cell:<{width}}" for cell in cells[1:])).rstrip()


def prefix_steps(result: SuiteResult) -> list[Step]:
    """The story's steps before the requests sent at once."""
    return list(result.story[:max(0, len(result.story) - len(result.branches))])


def race_json(result: SuiteResult) -> list[dict[str, Any]]:
    """The requests sent at once for report.json, in the order they were sent: the story's step,
    the branch (1-based, as the story numbers them), when sent and answered (ms since the
    release), the request and the answer."""
    return [
        {"step": step.number if step else None, "branch": branch + 1, "exchange": index,
         "sent_ms": round(sent * 1000, 1), "answered_ms": round(answered * 1000, 1),
         "request": result.exchanges[index].describe(), "status": result.exchanges[index].status,
         "answer": said(result.exchanges[index])}
        for index, step, branch, sent, answered in at_once(result)
    ]
