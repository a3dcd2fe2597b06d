"""What the diagrams draw, before any format: the arrows of each object type's diagram.

Every diagram format (DOT, Mermaid, with or without coverage) reads these values, so that all
of them show the same arrows in the same order. An object's diagram holds its own transitions
and, so that no state looks unreachable, the moves that effects of other objects'
transitions cause in it (a child's ``set`` effect that moves its owner, an owner's
``create`` effect that makes a child). Order follows the spec file: transitions in file
order, each followed by its effects. The overview reads :func:`effect_rows`: each
transition that has effects, with its own move and the moves it causes in other objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxpay_conformance.spec.paths import follow
from cxpay_conformance.spec.types import Effect, ObjectType, Spec, Transition


@dataclass(frozen=True, slots=True)
class Arrow:
    """One labelled move into ``target``: a transition of the object, or an effect on it.

    ``sources`` are the states the move leaves; empty means the object is created (the
    arrow starts at the diagram's start dot). ``effect`` is None for the object's own
    transitions; otherwise ``transition`` is the other object's transition that causes it.
    """

    transition: Transition
    actor: str
    sources: tuple[str, ...]
    target: str
    effect: Effect | None = None

    @property
    def induced(self) -> bool:
        """Whether another object's transition causes this move (through an effect)."""
        return self.effect is not None

    @property
    def key(self) -> str:
        """A name unique within one diagram, for junction nodes: ``t3`` or ``t3e1``."""
        if self.effect is None:
            return f"t{self.transition.index}"
        return f"t{self.transition.index}e{self.transition.effects.index(self.effect)}"

    def label(self) -> str:
        """``event [guard]``, and for an induced move the object whose event it is."""
        if self.effect is None:
            return self.transition.label()
        return f"{self.transition.label()} (on {self.transition.object})"


@dataclass(frozen=True, slots=True)
class Move:
    """One object's move in a row of the overview: into ``state`` of ``object``.

    ``sources`` are the states it leaves (empty: created, or for an effect with no
    from-states, any state); ``effect`` is None for the move of the transition itself.
    ``live`` says the sources are exactly the object's non-terminal states (three or more),
    which :meth:`origin` says in two words instead of listing them.
    """

    object: str
    state: str
    sources: tuple[str, ...]
    effect: Effect | None = None
    live: bool = False

    @property
    def created(self) -> bool:
        if self.effect is not None:
            return self.effect.kind == "create"
        return not self.sources

    def origin(self) -> str:
        """``created``, ``from <state> | <state>``, ``from not terminal`` or ``from any``."""
        if self.created:
            return "created"
        if not self.sources:
            return "from any"
        return "from " + ("not terminal" if self.live else " | ".join(self.sources))


@dataclass(frozen=True, slots=True)
class EffectRow:
    """A transition with cross-object effects: its own move, and the moves its effects cause."""

    transition: Transition
    actor: str
    own: Move
    effects: tuple[Move, ...]


def actor_of(spec: Spec, transition: Transition) -> str:
    """The actor of the event that fires ``transition``."""
    return spec.events[transition.event].actor


def effect_target(spec: Spec, transition: Transition, effect: Effect) -> ObjectType:
    """The object type an effect of ``transition`` acts on."""
    return follow(spec, transition.object, effect.path).object


def arrows_into(spec: Spec, obj: ObjectType) -> tuple[Arrow, ...]:
    """Every move of objects of type ``obj``: its transitions and effects on it, in file order.

    >>> arrows_into(spec, spec.root)[0].sources    # the root's first arrow creates it
    ()
    """
    arrows: list[Arrow] = []
    for transition in spec.transitions:
        actor = actor_of(spec, transition)
        if transition.object == obj.name:
            arrows.append(Arrow(transition, actor, transition.from_states, transition.to))
        for effect in transition.effects:
            if effect_target(spec, transition, effect).name != obj.name:
                continue
            arrows.append(Arrow(transition, actor, _effect_sources(obj, effect), effect.state,
                                effect))
    return tuple(arrows)


def effect_rows(spec: Spec) -> tuple[EffectRow, ...]:
    """Every transition that has effects, in file order, with the moves it causes.

    >>> [m.origin() for m in effect_rows(spec)[0].effects]   # the root creates its child
    ['created']
    """
    rows = []
    for transition in spec.transitions:
        if not transition.effects:
            continue
        own = spec.objects[transition.object]
        moves = tuple(
            Move(target.name, effect.state, effect.from_states, effect,
                 _all_live(target, effect.from_states))
            for effect in transition.effects
            for target in [effect_target(spec, transition, effect)]
        )
        rows.append(EffectRow(
            transition, actor_of(spec, transition),
            Move(own.name, transition.to, transition.from_states,
                 live=_all_live(own, transition.from_states)),
            moves,
        ))
    return tuple(rows)


def _all_live(obj: ObjectType, states: tuple[str, ...]) -> bool:
    live = {s.name for s in obj.states.values() if not s.terminal}
    return len(live) > 2 and set(states) == live


def _effect_sources(obj: ObjectType, effect: Effect) -> tuple[str, ...]:
    if effect.kind == "create":
        return ()
    if effect.from_states:
        return effect.from_states
    # No from-states: the model moves the object from whatever state it is in.
    return tuple(s for s in obj.states if s != effect.state)
