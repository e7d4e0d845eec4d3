"""Assignment of units to experiment arms in the API (sticky, hashed, per segment)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.resolvers import assignment as assigning
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, ValidationError
from app.schema.fields import mutation
from app.schema.money import Cents

UnassignedReason = strawberry.enum(assigning.Unassigned, name="UnassignedReason")


@strawberry.type
class Assignment:
    unit_id: str
    arm: str | None = strawberry.field(description="null: not in the experiment, see reason.")
    price_cents: Cents | None
    plan_id: strawberry.ID | None
    reason: UnassignedReason | None  # type: ignore[valid-type]

    @classmethod
    def of(cls, a: assigning.Assignment) -> Assignment:
        arm = a.arm
        return cls(
            unit_id=a.unit_id,
            arm=arm.key if arm else None,
            price_cents=arm.price_cents if arm else None,
            plan_id=strawberry.ID(str(arm.plan_id)) if arm else None,
            reason=a.reason,
        )


@strawberry.type
class AssignmentBatch:
    experiment_id: strawberry.ID
    assignments: list[Assignment]


AssignResult = Annotated[
    Assignment | ValidationError | NotFoundError | ConflictError,
    strawberry.union("AssignResult"),
]
AssignUnitsResult = Annotated[
    AssignmentBatch | ValidationError | NotFoundError | ConflictError,
    strawberry.union("AssignUnitsResult"),
]


@strawberry.type
class AssignmentMutation:
    @mutation(description="segmentId: the unit's segment, when the caller knows it.")
    async def assign(
        self,
        info: Info,
        experiment_id: strawberry.ID,
        unit_id: str,
        segment_id: strawberry.ID | None = None,
    ) -> AssignResult:
        ctx = info.context.ctx
        _, found = await assigning.assign_units(ctx, experiment_id, [unit_id], segment_id)
        return Assignment.of(found[0])

    @mutation(description=f"Up to {assigning.MAX_BATCH} units (of one segment, if given).")
    async def assign_units(
        self,
        info: Info,
        experiment_id: strawberry.ID,
        unit_ids: list[str],
        segment_id: strawberry.ID | None = None,
    ) -> AssignUnitsResult:
        ctx = info.context.ctx
        doc, found = await assigning.assign_units(ctx, experiment_id, unit_ids, segment_id)
        return AssignmentBatch(
            experiment_id=strawberry.ID(str(doc.id)), assignments=[Assignment.of(a) for a in found]
        )
