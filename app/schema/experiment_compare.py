"""GraphQL shape of experiments compared side by side (app.resolvers.experiment_compare)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from app.models.experiment import ExperimentStatus, PrimaryMetric
from app.resolvers import experiment_compare as use_case
from app.schema.experiment_results import ArmComparison, ArmResult, Elasticity
from app.schema.fields import query


@strawberry.type(description="One arm of one experiment, as in that experiment's results.")
class ExperimentComparisonRow:
    experiment_id: strawberry.ID
    experiment_name: str
    status: ExperimentStatus
    metric: PrimaryMetric = strawberry.field(description="The experiment's primary metric.")
    arm: ArmResult
    comparison: ArmComparison | None = strawberry.field(
        description="Against the experiment's control on its primary metric; null for control."
    )
    elasticity: Elasticity | None = strawberry.field(
        description="The experiment's elasticity fit, the same on each of its rows."
    )

    @classmethod
    def of(cls, row: use_case.ComparedArm) -> ExperimentComparisonRow:
        experiment = row.experiment
        return cls(
            experiment_id=strawberry.ID(str(experiment.id)),
            experiment_name=experiment.name,
            status=ExperimentStatus(experiment.status),
            metric=row.metric,
            arm=ArmResult.of(row.counters, experiment.control_arm().key),
            comparison=ArmComparison.of(row.comparison) if row.comparison else None,
            elasticity=Elasticity.of(row.elasticity) if row.elasticity else None,
        )


@strawberry.type
class ExperimentCompareQuery:
    @query(
        description="Several experiments side by side: a row per experiment and arm, in the "
        "order of `ids`, with the metrics, lifts and elasticity of each one's results."
    )
    async def compare_experiments(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description=f"1 to {use_case.MAX_COMPARED} distinct experiments."),
        ],
    ) -> list[ExperimentComparisonRow]:
        rows = await use_case.compare_experiments(info.context.ctx, [str(i) for i in ids])
        return [ExperimentComparisonRow.of(row) for row in rows]
