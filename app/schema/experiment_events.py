"""Experiment events in the API: exposures, conversions, revenue, refunds and churn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import strawberry
from strawberry.types.arguments import InputContext
from strawberry.types.base import get_object_definition

from app.resolvers import experiment_events as ingestion
from app.schema.context import Info
from app.schema.errors import ValidationError
from app.schema.fields import mutation
from app.schema.money import Cents

ExperimentEventKind = strawberry.enum(ingestion.EventKind, name="ExperimentEventKind")


@strawberry.input
class ExperimentEventInput:
    event_id: str = strawberry.field(description="Client-chosen; a repeat is ignored.")
    experiment_id: strawberry.ID
    unit_id: str
    kind: ExperimentEventKind  # type: ignore[valid-type]
    amount_cents: Cents = 0
    segment_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The unit's customer segment, for results by segment (name the same one "
        "on all of a unit's events).",
    )


def _event_input(
    cls: type[ExperimentEventInput], value: Mapping[str, Any], _: InputContext
) -> ExperimentEventInput:
    """Build an event from the values graphql-core has already coerced and checked.
    Strawberry's generic conversion re-resolves every field's type for every value: it was
    half the time of a 500-event `recordExperimentEvents` (bench/RESULTS.md)."""
    return cls(
        event_id=value["eventId"],
        experiment_id=value["experimentId"],
        unit_id=value["unitId"],
        kind=ingestion.EventKind(value["kind"]),
        amount_cents=value.get("amountCents", 0),
        segment_id=value.get("segmentId"),
    )


get_object_definition(ExperimentEventInput, strict=True).from_input = _event_input


@strawberry.type
class RejectedEvent:
    index: int
    reason: str


@strawberry.type(description="What happened to a batch; counters reach results at the next flush.")
class EventIngestion:
    received: int
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]


RecordEventsResult = Annotated[
    EventIngestion | ValidationError, strawberry.union("RecordExperimentEventsResult")
]


@strawberry.type
class ExperimentEventMutation:
    @mutation(description=f"Up to {ingestion.MAX_EVENTS} events per call, idempotent by eventId.")
    async def record_experiment_events(
        self, info: Info, events: list[ExperimentEventInput]
    ) -> RecordEventsResult:
        batch = [
            ingestion.EventIn(
                e.event_id,
                str(e.experiment_id),
                e.unit_id,
                ingestion.EventKind(e.kind),
                e.amount_cents,
                str(e.segment_id) if e.segment_id is not None else None,
            )
            for e in events
        ]
        report = await ingestion.record(info.context.ctx, batch)
        return EventIngestion(
            received=report.received,
            accepted=report.accepted,
            duplicates=report.duplicates,
            rejected=[RejectedEvent(index=i, reason=r) for i, r in report.rejected],
        )
