"""Objects as the implementation answered them, and how they compare with the model's.

:class:`ObservedGraph` lets the spec's invariants run over fetched JSON (the same evaluator
the model uses, :mod:`cxpay_conformance.model.invariants`). :func:`differences` compares an
answered object with the model's prediction, field by field; a predicted mapping (such as
``last_payment_error: {code: ...}``) needs only its predicted keys to match.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from cxpay_conformance.spec import Spec


class ObservedGraph:
    """Fetched objects (by id) as an :class:`~cxpay_conformance.model.ObjectGraph`."""

    def __init__(self, spec: Spec, objects: Mapping[str, Mapping[str, Any]], types: Mapping[str, str]) -> None:
        self.spec = spec
        self.objects = objects
        self.types = types

    def state(self, node: str) -> str | None:
        status = self.objects.get(node, {}).get("status")
        return str(status) if status is not None else None

    def follow(self, node: str, path: str) -> Sequence[str]:
        current = [node]
        for step in path.split(".") if path else ():
            following: list[str] = []
            for item in current:
                link = self.spec.objects[self.types[item]].links[step]
                value = self.objects.get(item, {}).get(link.field)
                ids = value if isinstance(value, list) else [value] if value else []
                following.extend(str(i) for i in ids if str(i) in self.objects)
            current = following
        return current

    def value(self, node: str, field: str) -> Any:
        return self.objects.get(node, {}).get(field)


def differences(expected: Mapping[str, Any], observed: Any, where: str = "") -> list[str]:
    """Each way ``observed`` differs from ``expected`` (only the keys ``expected`` has)."""
    if not isinstance(observed, Mapping):
        return [f"{where or 'the object'}: expected an object, got {observed!r}"]
    found = []
    for key, want in expected.items():
        name = f"{where}.{key}" if where else key
        if key not in observed:
            found.append(f"{name}: missing (expected {want!r})")
            continue
        got = observed[key]
        if isinstance(want, Mapping):
            found.extend(differences(want, got, name))
        elif got != want or isinstance(got, bool) != isinstance(want, bool):  # JSON: true is not 1
            found.append(f"{name}: expected {want!r}, got {got!r}")
    return found


def wire(spec: Spec, snapshot: Mapping[str, Any], type_: str, known: Collection[str],
         ids: Mapping[str, str]) -> dict[str, Any]:
    """A model snapshot of a ``type_`` object as the wire should show it: the model keys in its
    links (those in ``known``, the model's objects) replaced by the real ids of ``ids``."""
    def real(value: Any) -> Any:
        if isinstance(value, list):
            return [real(v) for v in value]
        if isinstance(value, str) and value in known:
            return ids.get(value, f"<{value}: not created by the implementation>")
        return value

    links = {link.field for link in spec.objects[type_].links.values()} | {"id"}
    return {k: (real(v) if k in links else v) for k, v in snapshot.items()} | {"object": type_}
