"""Deterministic, sticky assignment of units (visitors, accounts) to experiment arms.

Two independent hashes of (experiment id, unit id): one decides whether the unit is in the
rollout (`bucket < rollout`), the other picks the arm from the cumulative traffic shares.
Because the arm hash ignores the rollout, raising the rollout only adds units; those
already in keep their arm. Nothing is stored, so assignment costs one hash per unit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from app.errors import Conflict, ValidationFailed
from app.models.experiment import Experiment, ExperimentArm, ExperimentStatus
from app.resolvers.ctx import ResolverCtx

MAX_BATCH = 1000
UNIT_ID_MAX = 200


def bucket(experiment_id: str, unit_id: str, salt: str) -> float:
    """A uniform number in [0, 1): the first 8 bytes of sha256 over 2^64."""
    digest = hashlib.sha256(f"{salt}:{experiment_id}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def arm_for(experiment: Experiment, unit_id: str) -> ExperimentArm | None:
    """The unit's arm, or None when the unit is outside the rollout."""
    experiment_id = str(experiment.id)
    if bucket(experiment_id, unit_id, "rollout") >= experiment.rollout:
        return None
    point = bucket(experiment_id, unit_id, "arm")
    cumulative = 0.0
    for arm in experiment.arms:
        cumulative += arm.traffic_share
        if point < cumulative:
            return arm
    return experiment.arms[-1]  # shares sum to 1 up to rounding


@dataclass(frozen=True)
class Assignment:
    unit_id: str
    arm: ExperimentArm | None


def _check_units(unit_ids: list[str]) -> None:
    if not 1 <= len(unit_ids) <= MAX_BATCH:
        raise ValidationFailed.single("unitIds", f"send 1 to {MAX_BATCH} unit ids")
    for i, unit_id in enumerate(unit_ids):
        if not unit_id or len(unit_id) > UNIT_ID_MAX:
            raise ValidationFailed.single(f"unitIds.{i}", f"must be 1 to {UNIT_ID_MAX} characters")


async def assign_units(
    ctx: ResolverCtx, experiment_id: str, unit_ids: list[str]
) -> tuple[Experiment, list[Assignment]]:
    _check_units(unit_ids)
    experiment = await ctx.scope.require(Experiment, experiment_id)
    if experiment.status != ExperimentStatus.RUNNING:
        raise Conflict(f"the experiment is {experiment.status}; only a running one assigns units")
    return experiment, [Assignment(unit, arm_for(experiment, unit)) for unit in unit_ids]
