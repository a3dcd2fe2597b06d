"""Every error cxpay_conformance raises, under one root.

The hierarchy::

    CXPayError                      the root: catch this to catch everything of ours
    ├── SpecError                   the spec (cxpay.yaml / openapi.yaml) is wrong
    │                               (carries every problem found, each with file:line:column)
    ├── ImplementationUnreachable   the implementation under test did not answer, or not in
    │                               the protocol (timeouts, resets, non-JSON)
    ├── UsageError                  the user asked for something that cannot be done
    └── ConformanceFailure          (also an AssertionError) the implementation answered,
                                    and the answer is not what the spec says

Every message says what went wrong, where, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class CXPayError(Exception):
    """The root of every error raised by cxpay_conformance."""


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a spec file: 1-based line and column, as editors show them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One thing wrong with a spec: where, what, and what to change."""

    location: Location
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class SpecError(CXPayError):
    """The spec could not be loaded: it breaks the format or means something impossible.

    ``problems`` lists every problem found, not just the first, so that one edit can fix them all.
    """

    def __init__(self, problems: Sequence[SpecProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"the spec has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))


class UsageError(CXPayError):
    """The user asked for something that cannot be done (a bad option, a missing file)."""


class ImplementationUnreachable(CXPayError):
    """The implementation under test did not answer, or did not speak the protocol."""

    def __init__(self, message: str, *, request: str = "") -> None:
        self.request = request
        super().__init__(f"{message} (request: {request})" if request else message)


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    """An exception of ``cls`` with ``args`` and the attributes ``state``, without its ``__init__``."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConformanceFailure(CXPayError, AssertionError):
    """The implementation answered, and the answer is not what the spec says.

    The fields make a failure structured: ``check`` names the check that failed (a user can
    skip it by that name), ``step`` and ``event`` say where in the story it happened.
    ``dedup_key`` lets a report show one failure per distinct problem.
    """

    def __init__(
        self,
        message: str,
        *,
        check: str,
        step: int | None = None,
        event: str = "",
        expected: Any = None,
        observed: Any = None,
        request: str = "",
        response: str = "",
    ) -> None:
        self.check = check
        self.step = step
        self.event = event
        self.expected = expected
        self.observed = observed
        self.request = request
        self.response = response
        super().__init__(message)

    @property
    def dedup_key(self) -> tuple[str, str, str]:
        return (self.check, self.event, str(self.expected))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as it is (``run --workers`` sends a worker's failure to the parent): the default
        # would call ``__init__`` with the message alone, and the fields are keyword-only.
        return (_rebuilt, (type(self), self.args, self.__dict__))

    @classmethod
    def first_in(cls, error: BaseException) -> ConformanceFailure | None:
        """The first conformance failure in ``error``, looking inside exception groups (which
        Hypothesis raises for a failure that did not happen again).

        >>> ConformanceFailure.first_in(ExceptionGroup("flaky", [ValueError(), failure]))
        failure
        """
        if isinstance(error, cls):
            return error
        for inner in getattr(error, "exceptions", ()):
            found = cls.first_in(inner)
            if found is not None:
                return found
        return None
