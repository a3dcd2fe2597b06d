"""The choices an event can be fired with, and the guard contexts they give.

Guards test two things: the behaviour of a test card (``card.<attribute>``) and the
enumerable parameters of the event. The exploration fires every event once per *choice*
of the request parameters it controls (the card number, when the request carries it; each
value of each enumerable parameter); the nondeterminism check enumerates every *context* a
guard may see (every test card, whichever object carries it, times those values). Both are
read from the spec alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product
from typing import Any

from cxpay_conformance.spec import Card, Event, Spec
from cxpay_conformance.spec.types import frozen_mapping

GuardContext = Mapping[str, Any]


def choices(spec: Spec, event: Event) -> tuple[Mapping[str, str], ...]:
    """Every set of request parameters the exploration fires ``event`` with.

    >>> [dict(c) for c in choices(spec, spec.events["authenticate"])]
    [{'outcome': 'pass'}, {'outcome': 'fail'}]
    """
    axes: list[tuple[str, tuple[str, ...]]] = []
    if event.card == "parameter":
        axes.append((spec.cards.parameter, tuple(spec.cards.numbers)))
    axes.extend(event.parameters.items())
    names = [name for name, _ in axes]
    return tuple(
        frozen_mapping(dict(zip(names, values, strict=True)))
        for values in product(*(values for _, values in axes))
    )


def guard_contexts(spec: Spec, event: Event) -> tuple[GuardContext, ...]:
    """Every context a guard of ``event`` may see, as the model builds it.

    Events with a card see each test card's behaviour (wherever the card comes from), times
    every value of each enumerable parameter; events without one see the parameters only.
    """
    cards: tuple[Card | None, ...] = (
        tuple(spec.cards.numbers.values()) if event.card else ()
    ) or (None,)
    names = list(event.parameters)
    contexts = []
    for card in cards:
        for values in product(*event.parameters.values()):
            context: dict[str, Any] = dict(zip(names, values, strict=True))
            if card is not None:
                context.update({f"card.{k}": v for k, v in card.attributes.items()})
            contexts.append(frozen_mapping(context))
    return tuple(contexts)


def describe(context: GuardContext) -> str:
    """A context as ``card.network=approve, outcome=pass`` (``none`` when empty)."""
    return ", ".join(f"{k}={v}" for k, v in context.items()) or "no card and no parameter"
