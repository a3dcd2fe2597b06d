"""Variants of the real spec for tests: the text of ``spec/cxpay.yaml`` with a few edits.

Tests that need a broken or extended spec start from the real file and change it by exact
string replacement, so that they keep testing the spec we ship rather than a copy of it.
Every replacement must match exactly once: when the real spec changes under a test, the
test fails here with the snippet that no longer matches, instead of silently testing an
unedited spec. The written variant names the real ``spec/openapi.yaml`` by absolute path,
since the variant lives in a temporary folder.

    >>> path = write_refund_spec(tmp_path)
    >>> load_spec(path).objects["payment_intent"].states["refunded"].emits
    'payment_intent.refunded'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cxpay_conformance.errors import Location, SpecError, SpecProblem
from cxpay_conformance.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
REAL_SPEC = ROOT / "spec" / "cxpay.yaml"
REAL_OPENAPI = ROOT / "spec" / "openapi.yaml"

Replacement = tuple[str, str]


def real_spec_text() -> str:
    """The real spec's text, with ``openapi:`` pointing at the real OpenAPI document."""
    return edit(
        REAL_SPEC.read_text(encoding="utf-8"),
        ("openapi: openapi.yaml\n", f"openapi: {REAL_OPENAPI}\n"),
    )


def edit(text: str, *replacements: Replacement) -> str:
    """``text`` with each ``(old, new)`` applied in turn; each ``old`` must occur exactly once."""
    for old, new in replacements:
        count = text.count(old)
        if count != 1:
            raise AssertionError(
                f"the snippet {old!r} occurs {count} times in the spec text, not once; "
                "make it match exactly one place (the real spec may have changed)"
            )
        text = text.replace(old, new)
    return text


def write_variant(tmp_path: Path, *replacements: Replacement, name: str = "cxpay.yaml") -> Path:
    """Write the real spec with ``replacements`` applied to ``tmp_path / name``."""
    path = tmp_path / name
    path.write_text(edit(real_spec_text(), *replacements), encoding="utf-8")
    return path


def position(text: str, marker: str, *, occurrence: int = 1) -> tuple[int, int]:
    """The 1-based ``(line, column)`` where ``marker`` starts in ``text`` (its n-th occurrence)."""
    start = -1
    for _ in range(occurrence):
        start = text.find(marker, start + 1)
        if start < 0:
            raise AssertionError(f"{marker!r} does not occur {occurrence} time(s) in the text")
    line_start = text.rfind("\n", 0, start) + 1
    return text.count("\n", 0, start) + 1, start - line_start + 1


@dataclass(frozen=True)
class Broken:
    """A broken variant of the spec: its file, its text, and every problem the loader found."""

    path: Path
    text: str
    problems: tuple[SpecProblem, ...]

    def at(self, marker: str, *, occurrence: int = 1, shift: int = 0) -> Location:
        """The location of ``marker`` in the variant, moved ``shift`` columns to the right."""
        line, column = position(self.text, marker, occurrence=occurrence)
        return Location(str(self.path), line, column + shift)

    @property
    def only(self) -> SpecProblem:
        """The one problem found; fails, listing them all, when there is not exactly one."""
        assert len(self.problems) == 1, "\n".join(map(str, self.problems))
        return self.problems[0]


#: The type of the ``break_spec`` fixture: ``break_spec((old, new), ...) -> Broken``.
BreakSpec = Callable[..., Broken]


def load_broken(tmp_path: Path, *replacements: Replacement) -> Broken:
    """Write a variant, load it, and return the problems; fails if the variant loads."""
    path = write_variant(tmp_path, *replacements)
    try:
        load_spec(path)
    except SpecError as error:
        return Broken(path, path.read_text(encoding="utf-8"), error.problems)
    raise AssertionError(f"the broken spec {path} loaded without a problem")


# --- the refund extension -----------------------------------------------------------------

REFUND_REPLACEMENTS: tuple[Replacement, ...] = (
    # payment_intent: succeeded is no longer the end; refunded is.
    (
        "        description: Money captured. Done; fulfill the order.\n"
        "        terminal: true\n"
        "        emits: payment_intent.succeeded\n",
        "        description: Money captured. Done; fulfill the order.\n"
        "        emits: payment_intent.succeeded\n"
        "      refunded:\n"
        "        description: The merchant gave the money back.\n"
        "        terminal: true\n"
        "        emits: payment_intent.refunded\n",
    ),
    # charge: a settled charge can still be refunded, so settled is no longer terminal.
    (
        "        description: The captured funds were paid out to the merchant.\n"
        "        terminal: true\n"
        "        emits: charge.settled\n",
        "        description: The captured funds were paid out to the merchant.\n"
        "        emits: charge.settled\n"
        "      refunded:\n"
        "        description: The money went back to the cardholder.\n"
        "        terminal: true\n"
        "        emits: charge.refunded\n",
    ),
    # the merchant's new event (its operation must exist in openapi.yaml; reuse cancel's).
    (
        "  pay:\n    actor: customer\n",
        "  refund_payment:\n"
        "    actor: merchant\n"
        "    operation: cancelPaymentIntent\n"
        "    object: payment_intent\n"
        "    rejection: invalid_state\n"
        "    description: The merchant refunds a successful payment.\n"
        "  pay:\n    actor: customer\n",
    ),
    (
        "  - event: settlement\n    from: [succeeded]\n    to: settled\n",
        "  - event: settlement\n    from: [succeeded]\n    to: settled\n"
        "  - event: refund_payment\n"
        "    from: [succeeded]\n"
        "    to: refunded\n"
        "    effects:\n"
        "      - {set: latest_charge, from: [succeeded, settled], to: refunded}\n",
    ),
    # a refunded payment's session stays complete.
    (
        "      - {path: \"\", in: [complete]}\n      - {path: payment_intent, in: [succeeded]}\n",
        "      - {path: \"\", in: [complete]}\n"
        "      - {path: payment_intent, in: [succeeded, refunded]}\n",
    ),
)


def write_refund_spec(tmp_path: Path) -> Path:
    """The real spec plus refunds: a new state for two objects, a new event and transition.

    payment_intent ``succeeded -> refunded`` (terminal, emits ``payment_intent.refunded``)
    on the merchant event ``refund_payment``, which refunds the latest charge from
    ``succeeded`` or ``settled`` (both no longer terminal) to its new terminal ``refunded``.
    Proves that a new state needs YAML only: the model, lint and diagrams must follow it.
    """
    return write_variant(tmp_path, *REFUND_REPLACEMENTS, name="cxpay-refund.yaml")
