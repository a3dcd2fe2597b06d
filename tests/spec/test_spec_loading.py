"""The real spec loads, where it is found, what it remembers of its file, and that it is frozen."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from cxpay_conformance.errors import CXPayError, Location, SpecError
from cxpay_conformance.spec import Spec, default_spec_path, load_spec, parse_spec
from tests.spec_variants import REAL_SPEC, position


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec(REAL_SPEC)


def test_default_spec_path_is_the_shipped_spec() -> None:
    path = default_spec_path()

    assert path.is_file()
    assert path.resolve() == REAL_SPEC.resolve()


def test_the_real_spec_loads_with_and_without_a_path(spec: Spec) -> None:
    default = load_spec()

    assert spec.title == "CX Pay"
    assert spec.root.name == "checkout_session"
    assert [t.event for t in default.transitions] == [t.event for t in spec.transitions]
    assert set(default.objects) == set(spec.objects) == {
        "checkout_session",
        "payment_intent",
        "charge",
    }
    assert Path(spec.openapi_path).is_file()


def test_loaded_values_remember_their_line_in_the_file(spec: Spec) -> None:
    text = REAL_SPEC.read_text(encoding="utf-8")

    settled = spec.objects["charge"].states["settled"].location
    assert (settled.line, settled.column) == position(text, "settled:\n")  # charge's only
    first = spec.transitions[0].location
    assert (first.line, first.column) == position(text, "event: create_session")
    assert first.file == str(REAL_SPEC)


def test_the_spec_and_its_parts_cannot_be_assigned(spec: Spec) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.title = "Other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.objects["charge"].prefix = "xx_"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.transitions[0].to = "expired"  # type: ignore[misc]


def test_the_spec_mappings_are_read_only(spec: Spec) -> None:
    with pytest.raises(TypeError):
        spec.objects["refund"] = spec.objects["charge"]  # type: ignore[index]
    with pytest.raises(TypeError):
        spec.objects["charge"].states["gone"] = spec.objects["charge"].states["settled"]  # type: ignore[index]
    with pytest.raises(TypeError):
        del spec.events["pay"]  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        spec.cards.numbers["4242424242424242"].attributes["x"] = "y"  # type: ignore[index]


def _containers(value: Any, where: str) -> list[tuple[str, Any]]:
    """Every mapping and sequence held by the spec's dataclasses, with where it is."""
    found: list[tuple[str, Any]] = []
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            found += _containers(getattr(value, field.name), f"{where}.{field.name}")
    elif isinstance(value, Mapping | list | tuple):
        found.append((where, value))
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            if dataclasses.is_dataclass(item):
                found += _containers(item, f"{where}[{key!r}]")
    return found


def test_every_collection_of_the_spec_is_immutable(spec: Spec) -> None:
    containers = _containers(spec, "spec")
    mutable = [where for where, value in containers if isinstance(value, dict | list)]

    assert len(containers) > 50  # the walk did reach the states, events, transitions ...
    assert not mutable, f"mutable collections in the loaded spec: {mutable}"
    assert all(isinstance(value, MappingProxyType | tuple) for _, value in containers)


def test_a_missing_spec_file_is_a_spec_error_at_line_one(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    with pytest.raises(SpecError) as raised:
        load_spec(missing)

    (problem,) = raised.value.problems
    assert problem.location == Location(str(missing), 1, 1)
    assert "does not exist" in problem.message
    assert isinstance(raised.value, CXPayError)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- list\n"])
def test_an_empty_or_non_mapping_spec_is_one_problem(text: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_spec(text, "mem.yaml")

    (problem,) = raised.value.problems
    assert problem.location == Location("mem.yaml", 1, 1)
    assert "empty or not a mapping" in problem.message


def test_the_error_message_lists_every_problem_with_its_place(tmp_path: Path) -> None:
    text = REAL_SPEC.read_text(encoding="utf-8")
    broken = text.replace("    prefix: ch_\n", "    prefix: ch_\n    prefix: cx_\n").replace(
        "title: CX Pay\n", "title: CX Pay\ntitle: Again\n"
    )

    with pytest.raises(SpecError) as raised:
        parse_spec(broken, "broken.yaml", base_dir=REAL_SPEC.parent)

    message = str(raised.value)
    assert message.startswith("the spec has 2 problems:")
    line, column = position(broken, "title: Again")
    assert f"broken.yaml:{line}:{column}: the key 'title' appears twice" in message
    assert "hint: merge the two entries" in message
