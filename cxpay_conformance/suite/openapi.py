"""The wire contract as the suite reads it from ``spec/openapi.yaml``.

Which HTTP method and path perform an operation, what a request body may hold (so the suite
can generate valid ones), and whether an answer matches the schema documented for its
operation and status. Everything here is read from the OpenAPI document; nothing is spelt
out in Python.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cxpay_conformance.errors import Location, SpecError, SpecProblem
from cxpay_conformance.spec.yaml_positions import FAST_LOADER

jsonschema_rs: Any
try:  # the Rust validator Schemathesis uses too: a fast first opinion, see _SchemaCheck
    import jsonschema_rs
except ImportError:  # pragma: no cover - the pure-Python validator alone
    jsonschema_rs = None

_DOC_URI = "urn:cxpay:openapi"


@dataclass(frozen=True, slots=True)
class _SchemaCheck:
    """One schema's check of an instance: ``exact`` (jsonschema) decides and words the problems;
    ``fast`` (jsonschema-rs, when installed), many times quicker, only answers "valid" first.

    It is asked to check formats too, so it is never more lenient than ``exact`` (which checks
    fewer formats): whenever it finds a problem, ``exact`` looks again and has the last word.
    Nearly every answer of a conformance run is valid, so nearly every check is the fast one.
    """

    exact: jsonschema.Draft202012Validator
    fast: Any = None

    def problems(self, instance: Any) -> list[str]:
        if self.fast is not None and self.fast.is_valid(instance):
            return []
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}"
            for error in self.exact.iter_errors(instance)
        ]


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the contract: how to call it and what it may answer."""

    operation_id: str
    method: str
    path: str
    request_schema: dict[str, Any] | None
    responses: dict[str, dict[str, Any] | None]

    def url_path(self, object_id: str | None) -> str:
        """The path with its ``{id}`` filled in."""
        return self.path.replace("{id}", object_id) if object_id is not None else self.path


class OpenAPIContract:
    """The operations of an OpenAPI document, and a validator for its answers.

    >>> contract = OpenAPIContract.load("spec/openapi.yaml")
    >>> contract.operations["getCharge"].path
    '/charges/{id}'
    """

    def __init__(self, document: dict[str, Any], path: str) -> None:
        self.document = document
        self.path = path
        self.operations: dict[str, Operation] = {}
        self._request_schemas: dict[str, dict[str, Any]] = {}
        for template, item in (document.get("paths") or {}).items():
            for method, op in (item or {}).items():
                if not isinstance(op, dict) or "operationId" not in op:
                    continue
                body = (((op.get("requestBody") or {}).get("content") or {})
                        .get("application/json") or {}).get("schema")
                responses = {
                    status: (((self._deref(answer).get("content") or {})
                              .get("application/json") or {}).get("schema"))
                    for status, answer in (op.get("responses") or {}).items()
                }
                self.operations[op["operationId"]] = Operation(
                    op["operationId"], method.upper(), template, body, responses
                )

    def readers(self, object_types: list[str]) -> dict[str, str]:
        """For each object type, the GET operation that reads one by id.

        Found from the document: a GET on a path with ``{id}`` whose 200 answer's ``object``
        property is the type's name.
        """
        found: dict[str, str] = {}
        for operation in self.operations.values():
            if operation.method != "GET" or "{id}" not in operation.path:
                continue
            schema = self._deref(operation.responses.get("200") or {})
            const = self._deref((schema.get("properties") or {}).get("object", {})).get("const")
            if const in object_types:
                found.setdefault(const, operation.operation_id)
        missing = [t for t in object_types if t not in found]
        if missing:
            raise SpecError([SpecProblem(Location(self.path, 1, 1),
                                         f"no GET operation reads {', '.join(missing)} by id",
                                         "add GET /<objects>/{id} answering the object, with `object` as a const")])
        return found

    @classmethod
    def load(cls, path: str | Path) -> OpenAPIContract:
        try:
            # libyaml when PyYAML has it: the same document, parsed about eight times faster.
            document = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=FAST_LOADER)
        except (OSError, yaml.YAMLError) as exc:
            raise SpecError([SpecProblem(Location(str(path), 1, 1),
                                         f"the OpenAPI document cannot be read: {exc}",
                                         "point the spec's `openapi:` at a readable openapi.yaml")]) from None
        return cls(document, str(path))

    def _deref(self, node: Any) -> dict[str, Any]:
        while isinstance(node, dict) and "$ref" in node:
            node = self._pointer(node["$ref"])
        return node if isinstance(node, dict) else {}

    def _pointer(self, ref: str) -> Any:
        node: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    @cached_property
    def _registry(self) -> Registry:
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        return Registry().with_resource(_DOC_URI, resource)

    def validator(self, schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
        """A validator for ``schema``, whose ``#/components/...`` refs resolve in this document."""
        return self._check(schema).exact

    def _inlined(self, node: Any, refs: tuple[str, ...]) -> Any:
        """``node`` with its refs replaced by their targets; ``refs``: those being inlined."""
        if isinstance(node, list):
            return [self._inlined(v, refs) for v in node]
        if not isinstance(node, dict):
            return node
        if "$dynamicRef" in node:
            raise _CannotInline
        inlined = {k: (v if k in _DATA_KEYWORDS else self._inlined(v, refs))
                   for k, v in node.items() if k != "$ref"}
        if "$ref" not in node:
            return inlined
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in refs:
            raise _CannotInline
        target = self._inlined(self._pointer(ref), (*refs, ref))
        if not inlined:
            return target
        # A $ref beside other keywords applies together with them (JSON Schema 2020-12).
        return {**inlined, "allOf": [*inlined.get("allOf", []), target]}

    def response_problems(self, operation_id: str, status: int, body: Any) -> list[str]:
        """Why ``body`` is not a valid ``status`` answer of the operation; empty when it is."""
        operation = self.operations[operation_id]
        schema = operation.responses.get(str(status))
        if str(status) not in operation.responses:
            family = f"{str(status)[0]}XX"
            if family not in operation.responses and "default" not in operation.responses:
                documented = ", ".join(sorted(operation.responses))
                return [f"status {status} is not documented for {operation_id} (documented: {documented})"]
            schema = operation.responses.get(family) or operation.responses.get("default")
        if schema is None:
            return []
        # The suite reads every object back after every step, so most answers repeat exactly.
        # Validity depends on the JSON alone, and serialising an answer costs a twentieth of
        # validating it: an answer found valid once is not validated again.
        seen = (operation_id, str(status), _json_text(body))
        if seen in self._valid:
            return []
        check = self._checks.get((operation_id, str(status)))
        if check is None:
            check = self._checks[(operation_id, str(status))] = self._check(schema)
        problems = check.problems(body)
        if not problems and seen[2] is not None:
            if len(self._valid) >= _VALID_ANSWERS_KEPT:
                self._valid.clear()
            self._valid.add(seen)
        return problems

    @cached_property
    def _checks(self) -> dict[tuple[str, str], _SchemaCheck]:
        return {}

    def _check(self, schema: dict[str, Any]) -> _SchemaCheck:
        """Both validators of ``schema``. The refs are inlined when they can be (local and
        acyclic): jsonschema looks every ``$ref`` up in the registry again for each instance,
        which doubled the cost of checking an answer, and the suite checks every answer."""
        formats = jsonschema.FormatChecker()
        try:
            inlined = self._inlined(schema, ())
        except _CannotInline:  # a $dynamicRef or a cycle: the registry resolves it, slowly
            exact = jsonschema.Draft202012Validator(_anchored(schema), registry=self._registry,
                                                    format_checker=formats)
            return _SchemaCheck(exact)
        fast = None
        if jsonschema_rs is not None:
            with suppress(ValueError):  # a pattern it cannot compile: jsonschema alone
                fast = jsonschema_rs.Draft202012Validator(inlined, validate_formats=True)
        return _SchemaCheck(jsonschema.Draft202012Validator(inlined, format_checker=formats), fast)

    @cached_property
    def _valid(self) -> set[tuple[str, str, str | None]]:
        return set()

    def webhook_problems(self, event_type: str, body: Any) -> list[str]:
        """Why ``body`` is not a valid delivery of webhook ``event_type`` (the document's
        ``webhooks`` section); empty when it is."""
        item = ((self.document.get("webhooks") or {}).get(event_type) or {}).get("post")
        if not isinstance(item, dict):
            return [f"{event_type!r} is not a webhook type of the contract"]
        schema = (((self._deref(item.get("requestBody")).get("content") or {})
                   .get("application/json") or {}).get("schema"))
        if schema is None:
            return []
        check = self._checks.get(("webhook", event_type))
        if check is None:
            check = self._checks[("webhook", event_type)] = self._check(schema)
        return check.problems(body)

    def request_schema(self, operation_id: str) -> dict[str, Any]:
        """The request body schema of ``operation_id``, resolved (see :meth:`resolved`) once:
        the idempotency probe asks for it at every step."""
        schema = self._request_schemas.get(operation_id)
        if schema is None:
            operation = self.operations[operation_id]
            schema = self._request_schemas[operation_id] = self.resolved(operation.request_schema or {})
        return schema

    def resolved(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` with every local ``$ref`` inlined (for tools that want a self-contained schema)."""
        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                if "$ref" in node:
                    extra = {k: v for k, v in node.items() if k != "$ref"}
                    return walk({**self._pointer(node["$ref"]), **extra})
                return {k: walk(v) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        result: dict[str, Any] = walk(schema)
        return result


#: How many distinct valid answers :meth:`OpenAPIContract.response_problems` remembers.
_VALID_ANSWERS_KEPT = 10_000


def _json_text(body: Any) -> str | None:
    """``body`` as JSON text, or None when it is not JSON. An answer is parsed JSON (its keys are
    strings), so equal texts mean equal answers: ``1``, ``1.0`` and ``true`` stay apart."""
    try:
        return json.dumps(body, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError):
        return None


#: Keywords whose values are instances, not schemas: a "$ref" in them is data.
_DATA_KEYWORDS = frozenset({"const", "enum", "examples", "default"})



class _CannotInline(Exception):
    """A schema's refs cannot be inlined (a cycle, or a ref outside the document)."""


def _anchored(node: Any) -> Any:
    """``node`` with its document-local refs (``#/components/...``) made absolute."""
    if isinstance(node, dict):
        return {
            k: (_DOC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _anchored(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_anchored(v) for v in node]
    return node
