"""Price experiments in the API: CRUD, lifecycle, assignment, events, results, updates."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from app import models
from app.bus import Event
from app.models.experiment import (
    ExperimentGoal,
    ExperimentStatus,
    Guardrail,
    GuardrailMetric,
    PrimaryMetric,
)
from app.resolvers import experiment as use_case
from app.resolvers.experiment_results import recompute, results_of
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, RateLimitedError, ValidationError
from app.schema.experiment_results import ExperimentResults
from app.schema.fields import mutation, query, subscription
from app.schema.money import Cents
from app.schema.pagination import Connection, connection
from app.schema.streams import stream


@strawberry.enum
class ExperimentAction(Enum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    CANCEL = "cancel"
    RETIRE = "retire"


@strawberry.type
class ExperimentArm:
    key: str
    plan_id: strawberry.ID
    price_cents: Cents
    traffic_share: float
    control: bool


@strawberry.type
class ExperimentGuardrail:
    metric: GuardrailMetric
    max_increase: float = strawberry.field(description="Largest tolerated rise of the rate.")


@strawberry.type(description="A target segment's standing in the experiment.")
class ExperimentSegment:
    segment_id: strawberry.ID
    status: ExperimentStatus = strawberry.field(
        description="Its own once stopped or retired; the experiment's unless that is running."
    )
    changed_at: datetime | None = strawberry.field(description="Its last own action, if any.")
    changed_by: str | None
    reason: str | None

    @classmethod
    def of(cls, doc: models.Experiment, segment_id: Any) -> ExperimentSegment:
        state = doc.segment_state(segment_id)
        return cls(
            segment_id=strawberry.ID(str(segment_id)),
            status=ExperimentStatus(doc.segment_status(segment_id)),
            changed_at=state.changed_at if state else None,
            changed_by=state.changed_by if state else None,
            reason=state.reason if state else None,
        )


@strawberry.type(description="A price experiment (the seed's PriceExperiment).")
class Experiment:
    id: strawberry.ID
    key: str
    name: str
    hypothesis: str
    status: ExperimentStatus
    goal: ExperimentGoal
    product_id: strawberry.ID
    target_segment_ids: list[strawberry.ID]
    segments: list[ExperimentSegment] = strawberry.field(
        description="Each target segment's status (per-segment pause, resume, stop, retire)."
    )
    arms: list[ExperimentArm]
    rollout: float
    primary_metric: PrimaryMetric
    guardrails: list[ExperimentGuardrail]
    minimum_detectable_effect: float
    alpha: float
    power: float
    baseline_conversion_rate: float
    planned_sample_size_per_arm: int
    started_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None
    last_computed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    revision: int
    doc: strawberry.Private[models.Experiment]

    @strawberry.field(description="Statistics from the flushed counters.")
    async def results(
        self,
        info: Info,
        segment_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only the units whose events named this segment (for a target "
                "segment, what the engine judges it on, at alpha / number of targets)."
            ),
        ] = None,
    ) -> ExperimentResults:
        segment = str(segment_id) if segment_id is not None else None
        results = await results_of(info.context.ctx, self.doc, segment)
        return ExperimentResults.of(results, self.doc.control_arm().key)

    @classmethod
    def from_model(cls, doc: models.Experiment) -> Experiment:
        return cls(
            id=strawberry.ID(str(doc.id)),
            key=doc.key,
            name=doc.name,
            hypothesis=doc.hypothesis,
            status=ExperimentStatus(doc.status),
            goal=doc.goal,
            product_id=strawberry.ID(str(doc.product_id)),
            target_segment_ids=[strawberry.ID(str(s)) for s in doc.target_segment_ids],
            segments=[ExperimentSegment.of(doc, s) for s in doc.target_segment_ids],
            arms=[
                ExperimentArm(
                    key=a.key,
                    plan_id=strawberry.ID(str(a.plan_id)),
                    price_cents=a.price_cents,
                    traffic_share=a.traffic_share,
                    control=a.key == doc.control_arm().key,
                )
                for a in doc.arms
            ],
            rollout=doc.rollout,
            primary_metric=doc.primary_metric,
            guardrails=[
                ExperimentGuardrail(metric=g.metric, max_increase=g.max_increase)
                for g in doc.guardrails
            ],
            minimum_detectable_effect=doc.minimum_detectable_effect,
            alpha=doc.alpha,
            power=doc.power,
            baseline_conversion_rate=doc.baseline_conversion_rate,
            planned_sample_size_per_arm=doc.planned_sample_size_per_arm,
            started_at=doc.started_at,
            stopped_at=doc.stopped_at,
            stop_reason=doc.stop_reason,
            last_computed_at=doc.last_computed_at,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            revision=doc.revision,
            doc=doc,
        )


@strawberry.input
class ArmInput:
    key: str
    plan_id: strawberry.ID
    price_cents: Cents
    traffic_share: float
    control: bool = False


@strawberry.input
class GuardrailInput:
    metric: GuardrailMetric
    max_increase: float


@strawberry.input(description="Unset fields keep their value (update) or default (create).")
class ExperimentInput:
    name: str | None = None
    key: str | None = None
    product_id: strawberry.ID | None = None
    hypothesis: str | None = None
    goal: ExperimentGoal | None = None
    target_segment_ids: list[strawberry.ID] | None = None
    arms: list[ArmInput] | None = None
    rollout: float | None = None
    primary_metric: PrimaryMetric | None = None
    guardrails: list[GuardrailInput] | None = None
    minimum_detectable_effect: float | None = None
    alpha: float | None = None
    power: float | None = None
    baseline_conversion_rate: float | None = None
    planned_sample_size_per_arm: int | None = strawberry.field(
        default=None, description="Computed from MDE, alpha, power and baseline when unset."
    )

    def spec(self) -> use_case.ExperimentSpec:
        values: dict[str, Any] = {
            name: getattr(self, name)
            for name in use_case.ExperimentSpec.__dataclass_fields__
            if name not in ("arms", "guardrails", "issues", "target_segment_ids", "product_id")
        }
        return use_case.ExperimentSpec(
            **values,
            product_id=str(self.product_id) if self.product_id else None,
            target_segment_ids=[str(s) for s in self.target_segment_ids]
            if self.target_segment_ids is not None
            else None,
            arms=[
                use_case.ArmSpec(a.key, str(a.plan_id), a.price_cents, a.traffic_share, a.control)
                for a in self.arms
            ]
            if self.arms is not None
            else None,
            guardrails=[
                Guardrail(metric=g.metric, max_increase=g.max_increase) for g in self.guardrails
            ]
            if self.guardrails is not None
            else None,
        )


@strawberry.type
class ExperimentUpdate:
    type: str
    experiment_id: strawberry.ID
    status: ExperimentStatus
    stop_reason: str | None
    segment_id: strawberry.ID | None = strawberry.field(description="Set by segment actions.")
    segment_status: ExperimentStatus | None
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> ExperimentUpdate:
        segment_status = event.data.get("segmentStatus")
        return cls(
            type=event.type,
            experiment_id=strawberry.ID(event.data["experimentId"]),
            status=ExperimentStatus(event.data["status"]),
            stop_reason=event.data.get("stopReason"),
            segment_id=event.data.get("segmentId"),
            segment_status=ExperimentStatus(segment_status) if segment_status else None,
            cursor=event.id,
        )


ExperimentResult = Annotated[
    Experiment | ValidationError | NotFoundError | ConflictError,
    strawberry.union("ExperimentResult"),
]
RecomputeResult = Annotated[
    Experiment | NotFoundError | ConflictError | RateLimitedError,
    strawberry.union("RecomputeExperimentResult"),
]


@strawberry.type
class ExperimentQuery:
    @query()
    async def experiments(
        self,
        info: Info,
        product_id: strawberry.ID | None = None,
        status: ExperimentStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Experiment]:
        page = await use_case.list_experiments(info.context.ctx, product_id, status, (first, after))
        return connection(page, Experiment.from_model)

    @query()
    async def experiment(self, info: Info, id: strawberry.ID) -> Experiment | None:
        doc = await use_case.get_experiment(info.context.ctx, id)
        return Experiment.from_model(doc) if doc else None


@strawberry.type
class ExperimentMutation:
    @mutation()
    async def create_experiment(self, info: Info, input: ExperimentInput) -> ExperimentResult:
        return Experiment.from_model(await use_case.create(info.context.ctx, input.spec()))

    @mutation(description="Design fields only in draft; name, segments and rollout until the end.")
    async def update_experiment(
        self, info: Info, id: strawberry.ID, input: ExperimentInput
    ) -> ExperimentResult:
        return Experiment.from_model(await use_case.update(info.context.ctx, id, input.spec()))

    @mutation(description="Only drafts; retire the others.")
    async def delete_experiment(self, info: Info, id: strawberry.ID) -> ExperimentResult:
        return Experiment.from_model(await use_case.delete(info.context.ctx, id))

    @mutation(
        description="start, pause, resume, stop, cancel or retire (the seed's actions); with "
        "segmentId, pause, resume, stop or retire it for that target segment only."
    )
    async def experiment_action(
        self,
        info: Info,
        id: strawberry.ID,
        action: ExperimentAction,
        segment_id: strawberry.ID | None = None,
        reason: str | None = None,
    ) -> ExperimentResult:
        doc = await use_case.act(info.context.ctx, id, action.value, segment_id, reason)
        return Experiment.from_model(doc)

    @mutation(description="Flush counters, recompute and apply the stopping rules now.")
    async def recompute_experiment(self, info: Info, id: strawberry.ID) -> RecomputeResult:
        return Experiment.from_model(await recompute(info.context.ctx, id))


@strawberry.type
class ExperimentSubscription:
    @subscription(description="Lifecycle changes and recomputations of one experiment.")
    def experiment_updated(
        self, info: Info, experiment_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[ExperimentUpdate, None]:
        events = use_case.follow(info.context.ctx, experiment_id, since)
        return stream(events, ExperimentUpdate.from_event)
