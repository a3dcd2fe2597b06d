"""Link paths: how the spec names one object from another.

A path is link names joined by dots, read from a starting object type: from a charge,
``payment_intent.checkout_session`` is the session its payment intent belongs to; ``""`` is
the starting object itself. A path through a many-link (``charges``) names every object of it.
Value paths (``payment_intent.charges.amount``, ``payment_intent.charges.-1.id``) end in a
field name, and may pick one element of a many-link by index.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxpay_conformance.spec.types import ObjectType, Spec


@dataclass(frozen=True, slots=True)
class PathEnd:
    """What a path leads to: the object type, and whether it may be many objects."""

    object: ObjectType
    many: bool


class PathError(ValueError):
    """A path names a link that does not exist; the message says which one and where."""


def follow(spec: Spec, start: str, path: str) -> PathEnd:
    """The type at the end of ``path`` from object type ``start``.

    >>> follow(spec, "checkout_session", "payment_intent.charges").object.name
    'charge'
    """
    current = spec.objects[start]
    many = False
    for step in split(path):
        link = current.links.get(step)
        if link is None:
            known = ", ".join(current.links) or "none"
            raise PathError(f"{current.name} has no link {step!r} (its links: {known})")
        if link.object not in spec.objects:
            raise PathError(f"{current.name}.{step} leads to the unknown type {link.object!r}")
        many = many or link.many
        current = spec.objects[link.object]
    return PathEnd(current, many)


def split(path: str) -> tuple[str, ...]:
    """The steps of a path; the empty path has none."""
    return tuple(path.split(".")) if path else ()


def split_value_path(value_path: str) -> tuple[str, int | None, str]:
    """Split ``a.b.-1.field`` into the link path, the index (or None) and the field."""
    steps = value_path.split(".")
    field = steps[-1]
    links = steps[:-1]
    index = None
    if links and links[-1].lstrip("-").isdigit():
        index = int(links[-1])
        links = links[:-1]
    return ".".join(links), index, field
