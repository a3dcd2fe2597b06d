"""Validating the sandbox's answers against spec/openapi.yaml.

:class:`OpenApiDocument` finds the operation a request went to (method and path template), the
response the document gives for the answer's status (exact, then ``4XX``-style, then
``default``), and validates the JSON body against that response's schema with jsonschema
(Draft 2020-12, the dialect of OpenAPI 3.1). The document is registered under one URI in a
``referencing`` registry, so every ``#/components/...`` reference inside it resolves. An answer
whose status the operation does not document fails too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = ROOT / "spec" / "openapi.yaml"
_URI = "urn:cxpay:openapi"
_METHODS = ("get", "post", "put", "patch", "delete")


def _pointer_part(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    pointer: str  # JSON pointer of the operation object in the document


class OpenApiDocument:
    """spec/openapi.yaml, ready to check answers and webhook bodies against."""

    def __init__(self, path: Path = OPENAPI_PATH) -> None:
        self.document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(_URI, resource)
        self.operations: list[Operation] = []
        for template, item in self.document["paths"].items():
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            for method in _METHODS:
                if method in item:
                    pointer = f"/paths/{_pointer_part(template)}/{method}"
                    self.operations.append(
                        Operation(method.upper(), template, re.compile(regex), pointer)
                    )

    def operation(self, method: str, path: str) -> Operation | None:
        for operation in self.operations:
            if operation.method == method.upper() and operation.pattern.match(path):
                return operation
        return None

    def _resolve(self, pointer: str) -> Any:
        node: Any = self.document
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def check_answer(self, method: str, path: str, status: int, body: Any) -> None:
        """Fail unless ``body`` is what the document says ``method path`` answers with
        ``status``."""
        __tracebackhide__ = True
        operation = self.operation(method, path)
        if operation is None:
            raise AssertionError(f"{method} {path} is no operation of spec/openapi.yaml")
        responses = self._resolve(operation.pointer)["responses"]
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in responses:
                break
        else:
            raise AssertionError(
                f"{method} {operation.template} answered {status}, which spec/openapi.yaml "
                f"does not document (it documents {sorted(responses)}); body: {body}"
            )
        pointer = f"{operation.pointer}/responses/{key}"
        response = responses[key]
        if "$ref" in response:
            pointer = response["$ref"].removeprefix("#")
            response = self._resolve(pointer)
        schema_pointer = f"{pointer}/content/application~1json/schema"
        self._validate(body, schema_pointer, f"{method} {operation.template} -> {status}")

    def check_webhook(self, body: Any) -> None:
        """Fail unless ``body`` is the event body the document gives for its type."""
        __tracebackhide__ = True
        event_type = body.get("type")
        if event_type not in self.document["webhooks"]:
            raise AssertionError(f"webhook of unknown type {event_type!r}: {body}")
        pointer = (
            f"/webhooks/{_pointer_part(event_type)}/post/requestBody/content/"
            "application~1json/schema"
        )
        self._validate(body, pointer, f"webhook {event_type}")

    def _validate(self, instance: Any, pointer: str, what: str) -> None:
        __tracebackhide__ = True
        validator = _validator(self, pointer)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            details = "\n".join(
                f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in errors[:5]
            )
            raise AssertionError(
                f"{what}: the body breaks spec/openapi.yaml:\n{details}\n{instance}"
            )


@cache
def _validator(document: OpenApiDocument, pointer: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"$ref": f"{_URI}#{pointer}"},
        registry=document.registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


@cache
def openapi() -> OpenApiDocument:
    """The document, loaded once per test session."""
    return OpenApiDocument()
