"""What the diagrams draw, before any format: the arrows of each object type's diagram.

Every diagram format (DOT, Mermaid, with or without coverage) reads these values, so that all
of them show the same arrows in the same order. An object's diagram holds its own transitions
and, so that no state looks unreachable, the moves that effects of other objects'
transitions cause in it (a child's ``set`` effect that moves its owner, an owner's
``create`` effect that makes a child). Order follows the spec file: transitions in file
order, each followed by its effects.
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
class EffectLink:
    """A cross-object effect for the overview: ``transition`` moves ``object``.``state``.

    ``from_live`` says the effect's from-states are exactly the target's non-terminal states
    (three or more of them), which the label says in two words instead of listing them.
    """

    transition: Transition
    actor: str
    effect: Effect
    object: str
    state: str
    from_live: bool = False

    def label(self) -> str:
        """``create <link>``, or ``set <path> [if <state>|<state>]``."""
        path = self.effect.path or "itself"
        if self.effect.kind == "create":
            return f"create {path}"
        if not self.effect.from_states:
            return f"set {path}"
        condition = "not terminal" if self.from_live else "|".join(self.effect.from_states)
        return f"set {path} [if {condition}]"


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


def effect_links(spec: Spec) -> tuple[EffectLink, ...]:
    """Every effect of every transition, with the object type and state it moves to."""
    links = []
    for transition in spec.transitions:
        for effect in transition.effects:
            target = effect_target(spec, transition, effect)
            live = {s.name for s in target.states.values() if not s.terminal}
            from_live = len(live) > 2 and set(effect.from_states) == live
            links.append(EffectLink(transition, actor_of(spec, transition), effect, target.name,
                                    effect.state, from_live=from_live))
    return tuple(links)


def _effect_sources(obj: ObjectType, effect: Effect) -> tuple[str, ...]:
    if effect.kind == "create":
        return ()
    if effect.from_states:
        return effect.from_states
    # No from-states: the model moves the object from whatever state it is in.
    return tuple(s for s in obj.states if s != effect.state)
