"""The spec made executable: ``transitions`` machines per object type, and a world of
payments that predicts statuses, webhooks and rejections. Knows the spec only."""

from __future__ import annotations

from cxpay_conformance.model.invariants import (
    ObjectGraph,
    Violation,
    WorldGraph,
    check_changes,
    check_invariants,
    check_world_payment,
)
from cxpay_conformance.model.machines import NoGuardMatched, NotAllowed, ObjectMachines
from cxpay_conformance.model.world import Change, ModelObject, Outcome, World

__all__ = [
    "Change",
    "ModelObject",
    "NoGuardMatched",
    "NotAllowed",
    "ObjectGraph",
    "ObjectMachines",
    "Outcome",
    "Violation",
    "World",
    "WorldGraph",
    "check_changes",
    "check_invariants",
    "check_world_payment",
]
