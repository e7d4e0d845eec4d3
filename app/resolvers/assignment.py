"""Deterministic, sticky assignment of units (visitors, accounts) to experiment arms.

Two independent hashes of (experiment id, unit id): one decides whether the unit is in the
rollout (`bucket < rollout`), the other picks the arm from the cumulative traffic shares.
Because the arm hash ignores the rollout, raising the rollout only adds units; those
already in keep their arm. Nothing is stored, so assignment costs one hash per unit.

A caller that knows the unit's customer segment passes it: units of a segment the
experiment does not target, or of a target segment paused, stopped or retired there, get
no arm and the reason, so the caller serves its default price. The arm hash ignores the
segment, so a unit whose segment resumes gets the arm it had.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from app.errors import Conflict, ValidationFailed
from app.models.base import parse_id
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


class Unassigned(StrEnum):
    OUTSIDE_ROLLOUT = "outside_rollout"
    SEGMENT_NOT_TARGETED = "segment_not_targeted"
    SEGMENT_PAUSED = "segment_paused"
    SEGMENT_STOPPED = "segment_stopped"
    SEGMENT_RETIRED = "segment_retired"


BY_SEGMENT_STATUS: dict[str, Unassigned] = {
    ExperimentStatus.PAUSED: Unassigned.SEGMENT_PAUSED,
    ExperimentStatus.COMPLETED: Unassigned.SEGMENT_STOPPED,
    ExperimentStatus.RETIRED: Unassigned.SEGMENT_RETIRED,
}


@dataclass(frozen=True)
class Assignment:
    unit_id: str
    arm: ExperimentArm | None
    reason: Unassigned | None = None  # why there is no arm


def segment_exclusion(experiment: Experiment, segment_id: str) -> Unassigned | None:
    """Why units of the segment get no arm now; None when the segment takes part."""
    if not experiment.target_segment_ids:  # the experiment targets everyone
        return None
    oid = parse_id(segment_id)
    if oid is None or oid not in experiment.target_segment_ids:
        return Unassigned.SEGMENT_NOT_TARGETED
    return BY_SEGMENT_STATUS.get(experiment.segment_status(oid))


def assign(experiment: Experiment, unit_id: str) -> Assignment:
    arm = arm_for(experiment, unit_id)
    return Assignment(unit_id, arm, None if arm else Unassigned.OUTSIDE_ROLLOUT)


def _check_units(unit_ids: list[str]) -> None:
    if not 1 <= len(unit_ids) <= MAX_BATCH:
        raise ValidationFailed.single("unitIds", f"send 1 to {MAX_BATCH} unit ids")
    for i, unit_id in enumerate(unit_ids):
        if not unit_id or len(unit_id) > UNIT_ID_MAX:
            raise ValidationFailed.single(f"unitIds.{i}", f"must be 1 to {UNIT_ID_MAX} characters")


async def assign_units(
    ctx: ResolverCtx, experiment_id: str, unit_ids: list[str], segment_id: str | None = None
) -> tuple[Experiment, list[Assignment]]:
    _check_units(unit_ids)
    experiment = await ctx.scope.require(Experiment, experiment_id)
    if experiment.status != ExperimentStatus.RUNNING:
        raise Conflict(f"the experiment is {experiment.status}; only a running one assigns units")
    excluded = segment_exclusion(experiment, segment_id) if segment_id is not None else None
    if excluded is not None:
        return experiment, [Assignment(unit, None, excluded) for unit in unit_ids]
    return experiment, [assign(experiment, unit) for unit in unit_ids]
