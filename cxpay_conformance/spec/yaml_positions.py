"""Read YAML into plain Python values while remembering where every value stood.

PyYAML's composer keeps a line and column on every node; its constructor throws them away.
:func:`read_yaml` keeps them: it returns the data and a :class:`Positions` table that maps a
path inside the data (``("transitions", 3, "to")``) to its place in the file, which is how
every spec error gets its ``file:line:column``. Duplicate mapping keys, which PyYAML would
silently let overwrite each other, are reported here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from cxpay_conformance.errors import Location, SpecProblem

PathKey = tuple[str | int, ...]

#: libyaml's loader when PyYAML was built with it, several times faster than the Python one.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Positions:
    """Where each value of a YAML document stands in its file."""

    file: str
    _places: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def record(self, path: PathKey, node: yaml.Node) -> None:
        self._places[path] = (node.start_mark.line + 1, node.start_mark.column + 1)

    def at(self, path: Sequence[str | int]) -> Location:
        """The location of ``path``, or of its nearest ancestor that has one."""
        key = tuple(path)
        while key and key not in self._places:
            key = key[:-1]
        line, column = self._places.get(key, (1, 1))
        return Location(self.file, line, column)


def read_yaml(text: str, file: str) -> tuple[Any, Positions, list[SpecProblem]]:
    """Parse ``text`` (the contents of ``file``) into data, positions and problems.

    A syntax error comes back as a problem (with the data ``None``), never as an exception.
    """
    positions = Positions(file)
    problems: list[SpecProblem] = []
    try:
        try:
            # libyaml when present (several times faster, and its nodes carry the same marks);
            # a syntax error is parsed again in Python, whose messages say more.
            node = yaml.compose(text, Loader=FAST_LOADER)
        except yaml.YAMLError:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = getattr(exc, "problem", None) or str(exc)
        context, opened = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and opened and mark and opened.line != mark.line:
            # An unclosed bracket is found lines after it was opened: say where it opened.
            reason += f" ({context} at line {opened.line + 1}, column {opened.column + 1})"
        problems.append(
            SpecProblem(
                Location(file, line, column),
                f"this is not valid YAML: {reason}",
                "fix the syntax here (indentation, a missing colon, or an unclosed bracket)",
            )
        )
        return None, positions, problems
    if node is None:
        return None, positions, problems
    data = _convert(node, (), positions, problems)
    return data, positions, problems


def _convert(
    node: yaml.Node, path: PathKey, positions: Positions, problems: list[SpecProblem]
) -> Any:
    positions.record(path, node)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            key_text = str(key) if key is not None else "null"
            if key_text in result:
                problems.append(
                    SpecProblem(
                        Location(
                            positions.file,
                            key_node.start_mark.line + 1,
                            key_node.start_mark.column + 1,
                        ),
                        f"the key {key_text!r} appears twice in this mapping",
                        "merge the two entries; YAML would silently keep only the last one",
                    )
                )
            child = (*path, key_text)
            positions.record(child, key_node)
            result[key_text] = _convert(value_node, child, positions, problems)
            # The key's position is the better place to point at for a value problem too.
            positions.record(child, key_node)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, index), positions, problems)
            for index, item in enumerate(node.value)
        ]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return str(node.value)
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()
