"""A trace that breaks the spec: where (file and line), which payment, the check that failed
in the suite's own words (:class:`~cxpay_conformance.errors.ConformanceFailure`), and the
payment's story up to that line."""

from __future__ import annotations

from dataclasses import dataclass

from cxpay_conformance.errors import ConformanceFailure
from cxpay_conformance.trace.state import StoryStep


@dataclass(frozen=True)
class TraceViolation:
    """The first line of a trace that no behaviour of the spec explains."""

    file: str
    line: int
    payment: str | None
    failure: ConformanceFailure
    story: tuple[StoryStep, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def render(self) -> str:
        """The violation as check-trace prints it, in the words of the suite's story.

        >>> print(violation.render())
        run.jsonl:41: check failed: status
          pay is not allowed in state succeeded: ...
        """
        lines = [f"{self.where}: check failed: {self.failure.check}", f"  {self.failure}"]
        if self.story:
            lines += ["", f"The story of payment {self.payment} up to it:"]
            for number, step in enumerate(self.story, start=1):
                lines.append(f"  {number:>2}. {step.where}: {step.story}")
                if step.expected:
                    lines.append(f"      expected: {step.expected}")
                if step.observed:
                    lines.append(f"      observed: {step.observed}")
        if self.failure.request:
            lines += ["", f"Request:  {self.failure.request}"]
        if self.failure.response:
            lines += [f"Response: {self.failure.response[:600]}"]
        return "\n".join(lines)


class Violated(Exception):
    """Raised inside the checker to stop at a violation (never leaves :mod:`.check`)."""

    def __init__(self, violation: TraceViolation) -> None:
        super().__init__(violation.render())
        self.violation = violation
