"""Load ``cxpay.yaml`` into a frozen :class:`~cxpay_conformance.spec.types.Spec`.

Loading runs in three passes, each reporting every problem it finds at once, with
``file:line:column`` and a hint: YAML syntax (:mod:`.yaml_positions`), the format (the JSON
Schema in ``schema.json``), and the meaning (:mod:`.semantics`). Only a spec that passes all
three becomes a :class:`Spec`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from cxpay_conformance.errors import Location, SpecError, SpecProblem
from cxpay_conformance.spec.semantics import check_meaning
from cxpay_conformance.spec.types import (
    DEFAULT_RETRY_WINDOW,
    Card,
    Cards,
    Condition,
    Decision,
    Due,
    Effect,
    Event,
    Invariant,
    InvariantKind,
    Link,
    LinkKind,
    ObjectType,
    Protocol,
    Rejection,
    Spec,
    State,
    Transition,
    frozen_mapping,
)
from cxpay_conformance.spec.yaml_positions import Positions, read_yaml


def default_spec_path() -> Path:
    """The ``cxpay.yaml`` this package ships with.

    In a wheel it is bundled inside the package; in a source checkout (editable install) it
    is the repository's top-level ``spec/cxpay.yaml``.
    """
    bundled = resources.files("cxpay_conformance") / "_bundled_spec" / "cxpay.yaml"
    if bundled.is_file():
        return Path(str(bundled))
    return Path(__file__).resolve().parents[2] / "spec" / "cxpay.yaml"


def load_spec(path: str | Path | None = None) -> Spec:
    """Load, check and freeze a spec file.

    >>> spec = load_spec()                      # the spec that ships with the package
    >>> spec.objects["payment_intent"].prefix
    'pi_'

    Raises :class:`~cxpay_conformance.errors.SpecError` listing every problem found.
    """
    file = Path(path) if path is not None else default_spec_path()
    display = str(path) if path is not None else _display_name(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([_whole_file(display, "the spec file does not exist",
                                     "give the path of a cxpay.yaml, or none for the built-in spec")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([_whole_file(display, f"the spec file cannot be read: {exc}",
                                     "check the file's permissions and that it is UTF-8 text")]) from None
    return parse_spec(text, display, base_dir=file.parent)


def parse_spec(text: str, file: str, *, base_dir: Path | None = None) -> Spec:
    """Like :func:`load_spec`, from text; ``file`` is the name errors show."""
    data, positions, problems = read_yaml(text, file)
    if problems:
        raise SpecError(problems)
    if not isinstance(data, dict):
        raise SpecError([_whole_file(file, "the spec is empty or not a mapping",
                                     "start from spec/cxpay.yaml; a spec is a YAML mapping")])
    problems = _format_problems(data, positions)
    if problems:
        raise SpecError(_in_file_order(problems))
    spec = _build(data, positions, file, base_dir or Path.cwd())
    problems = check_meaning(spec, data, positions)
    if problems:
        raise SpecError(_in_file_order(problems))
    return spec


def _in_file_order(problems: list[SpecProblem]) -> list[SpecProblem]:
    return sorted(problems, key=lambda p: (p.location.line, p.location.column))


# --- pass 2: the format -------------------------------------------------------------------


@cache
def _format_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(
        resources.files("cxpay_conformance.spec").joinpath("schema.json").read_text("utf-8")
    )
    return jsonschema.Draft202012Validator(schema)


def _format_problems(data: dict[str, Any], positions: Positions) -> list[SpecProblem]:
    problems = []
    for error in sorted(_format_validator().iter_errors(data), key=lambda e: list(map(str, e.path))):
        # oneOf/anyOf errors hide the useful detail in their best sub-error.
        error = jsonschema.exceptions.best_match([error]) if error.context else error
        where = ".".join(str(p) for p in error.absolute_path) or "the top level"
        problems.append(
            SpecProblem(
                positions.at(_problem_path(error)),
                f"{where}: {_plain(error)}",
                _hint(error),
            )
        )
    return problems


def _problem_path(error: jsonschema.ValidationError) -> list[str | int]:
    """Where to point: at the first unknown key itself, else at the value that is wrong."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        unknown = [key for key in error.instance if key not in known]
        path.extend(unknown[:1])
    return path


def _plain(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown key")
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    return error.message


def _hint(error: jsonschema.ValidationError) -> str:
    validator = error.validator
    if validator == "additionalProperties":
        return "remove the key, or check its spelling against the format in schema.json"
    if validator == "required":
        return "add the missing key (see the other entries of the same kind for an example)"
    if validator in ("enum", "const"):
        return f"use one of: {error.validator_value}"
    if validator == "pattern":
        return f"the value must match {error.validator_value}"
    if validator in ("oneOf", "anyOf"):
        return "this entry mixes the keys of two forms; keep the keys of one form only"
    return "see cxpay_conformance/spec/schema.json for the expected shape"


# --- building the typed spec --------------------------------------------------------------


def _build(data: dict[str, Any], positions: Positions, file: str, base_dir: Path) -> Spec:
    objects = {
        name: _object(name, raw, positions) for name, raw in data["objects"].items()
    }
    cards_raw = data["cards"]
    cards = Cards(
        parameter=cards_raw["parameter"],
        attributes=frozen_mapping({k: tuple(v) for k, v in cards_raw["attributes"].items()}),
        numbers=frozen_mapping(
            {
                str(number): Card(
                    number=str(number),
                    description=raw["description"],
                    attributes=frozen_mapping(
                        {k: v for k, v in raw.items() if k != "description"}
                    ),
                    location=positions.at(("cards", "numbers", str(number))),
                )
                for number, raw in cards_raw["numbers"].items()
            }
        ),
    )
    rejections = {
        name: Rejection(name, raw["status"], raw["type"], raw["code"], raw.get("description", ""))
        for name, raw in data["rejections"].items()
    }
    protocol_raw = data["protocol"]
    missing = Rejection("(unknown)", 0, "", "")
    protocol = Protocol(
        **{role: rejections.get(protocol_raw[role], missing)
           for role in ("missing_key", "invalid_key", "unknown_object", "key_reused", "key_length_invalid",
                        "key_in_flight")},
        idempotency_window=int(protocol_raw["idempotency_window"]),
        idempotency_key_length=(int(protocol_raw["idempotency_key_length"]["min"]),
                                int(protocol_raw["idempotency_key_length"]["max"])),
        webhook_retry_window=int(protocol_raw.get("webhook_retry_window", DEFAULT_RETRY_WINDOW)),
        **{role: rejections.get(protocol_raw[role], missing)
           for role in ("parameter_invalid", "parameter_missing", "parameter_unknown", "body_invalid")
           if role in protocol_raw},
    )
    clock = {name: int(value) for name, value in (data.get("clock") or {}).items()}
    events = {name: _event(name, raw, positions, clock) for name, raw in data["events"].items()}
    transitions = tuple(
        _transition(index, raw, positions, events)
        for index, raw in enumerate(data["transitions"])
    )
    invariants = tuple(
        _invariant(index, raw, positions) for index, raw in enumerate(data["invariants"])
    )
    decisions = tuple(
        Decision(raw["topic"], raw["doc_says"], raw["decision"], raw["why"])
        for raw in data["decisions"]
    )
    return Spec(
        path=file,
        title=data["title"],
        version=str(data["version"]),
        openapi_path=str((base_dir / data["openapi"]).resolve()),
        objects=frozen_mapping(objects),
        cards=cards,
        rejections=frozen_mapping(rejections),
        protocol=protocol,
        clock=frozen_mapping(clock),
        events=frozen_mapping(events),
        transitions=transitions,
        invariants=invariants,
        decisions=decisions,
    )


def _object(name: str, raw: Mapping[str, Any], positions: Positions) -> ObjectType:
    links = {}
    for link_name, link in (raw.get("links") or {}).items():
        kind: LinkKind
        if "owns" in link:
            kind = "owns_many" if link["owns"] == "many" else "owns_one"
        elif "owner" in link:
            kind = "owner"
        else:
            kind = "newest_of"
        links[link_name] = Link(
            name=link_name,
            object=link["object"],
            field=link["field"],
            kind=kind,
            of=link.get("newest_of"),
            location=positions.at(("objects", name, "links", link_name)),
        )
    states = {
        state_name: State(
            name=state_name,
            description=state["description"],
            initial=bool(state.get("initial", False)),
            terminal=bool(state.get("terminal", False)),
            emits=state.get("emits"),
            location=positions.at(("objects", name, "states", state_name)),
        )
        for state_name, state in raw["states"].items()
    }
    return ObjectType(
        name=name,
        prefix=raw["prefix"],
        description=raw["description"],
        links=frozen_mapping(links),
        states=frozen_mapping(states),
        location=positions.at(("objects", name)),
    )


def _event(
    name: str, raw: Mapping[str, Any], positions: Positions, clock: Mapping[str, int]
) -> Event:
    due = None
    if "due" in raw:
        after = raw["due"].get("after")
        due = Due(
            at_field=raw["due"].get("at_field"),
            # A name refers to a clock constant; an unknown name is the semantic pass's to report.
            after=clock.get(after, 0) if isinstance(after, str) else after,
        )
    return Event(
        name=name,
        actor=raw["actor"],
        operation=raw["operation"],
        object=raw["object"],
        description=raw.get("description", ""),
        creates=bool(raw.get("creates", False)),
        addressed_to=raw.get("addressed_to"),
        card=raw.get("card"),
        parameters=frozen_mapping(
            {k: tuple(str(v) for v in vs) for k, vs in (raw.get("parameters") or {}).items()}
        ),
        defaults=frozen_mapping(raw.get("defaults")),
        rejection=raw.get("rejection"),
        rejections=frozen_mapping(raw.get("rejections")),
        due=due,
        location=positions.at(("events", name)),
    )


def _transition(
    index: int, raw: Mapping[str, Any], positions: Positions, events: Mapping[str, Event]
) -> Transition:
    event = events.get(raw["event"])
    guard = {
        key: (value,) if isinstance(value, str) else tuple(value)
        for key, value in (raw.get("guard") or {}).items()
    }
    effects = tuple(
        Effect(
            kind="create" if "create" in effect else "set",
            path=effect.get("create", effect.get("set", "")),
            state=effect.get("state", effect.get("to", "")),
            from_states=tuple(effect.get("from", ())),
            fields=frozen_mapping(effect.get("fields")),
            copy=tuple(effect.get("copy", ())),
            location=positions.at(("transitions", index, "effects", position)),
        )
        for position, effect in enumerate(raw.get("effects") or ())
    )
    return Transition(
        event=raw["event"],
        object=event.object if event else "",
        from_states=tuple(raw.get("from", ())),
        to=raw["to"],
        guard=frozen_mapping(guard),
        fields=frozen_mapping(raw.get("fields")),
        effects=effects,
        index=index,
        location=positions.at(("transitions", index)),
    )


def _condition(raw: Mapping[str, Any]) -> Condition:
    if "count" in raw:
        states = raw.get("in")
        return Condition(
            path=raw["count"],
            states=tuple(states) if states is not None else None,
            count=True,
            at_least=raw.get("at_least"),
            at_most=raw.get("at_most"),
        )
    return Condition(path=raw["path"], states=tuple(raw["in"]))


def _invariant(index: int, raw: Mapping[str, Any], positions: Positions) -> Invariant:
    location = positions.at(("invariants", index))
    base = {"name": raw["name"], "description": raw["description"], "location": location}
    kind: InvariantKind
    if "count" in raw:
        count = raw["count"]
        condition = _condition({"count": count["path"], **{k: v for k, v in count.items() if k != "path"}})
        return Invariant(kind="count", conditions=(condition,), **base)
    for kind in ("iff", "implies"):
        if kind in raw:
            return Invariant(kind=kind, conditions=tuple(_condition(c) for c in raw[kind]), **base)
    if "same_value" in raw:
        return Invariant(kind="same_value", values=tuple(raw["same_value"]), **base)
    return Invariant(kind="absorbing", **base)


def _whole_file(file: str, message: str, hint: str) -> SpecProblem:
    return SpecProblem(Location(file, 1, 1), message, hint)


def _display_name(file: Path) -> str:
    try:
        return str(file.relative_to(Path.cwd()))
    except ValueError:
        return str(file)

