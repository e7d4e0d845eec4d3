"""Price experiments, the raw events of the demo seed, and per-unit counters.

Ingestion keeps no raw event documents: events are counted in Redis and flushed into one
`ExperimentUnit` per (experiment, unit) holding that unit's totals, so results need only a
group-by over units (n, sums and sums of squares per arm). `ExperimentEvent` is the raw
form the seed generates; the seed also writes the units its events add up to.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import PydanticObjectId
from bson import ObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from app.models.base import TenantDocument


class ExperimentStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    RETIRED = "retired"


# A segment stopped or retired never runs again in this experiment.
SEGMENT_FINAL = {ExperimentStatus.COMPLETED, ExperimentStatus.RETIRED}


class ExperimentGoal(StrEnum):
    COMPETITIVENESS = "competitiveness"
    ROI_EXTRACTION = "roi_extraction"
    OPTIMIZATION = "optimization"


class PrimaryMetric(StrEnum):
    CONVERSION = "conversion"
    REVENUE_PER_VISITOR = "revenue_per_visitor"
    GROSS_MARGIN_PER_VISITOR = "gross_margin_per_visitor"


class GuardrailMetric(StrEnum):
    CHURN_RATE = "churn_rate"
    REFUND_RATE = "refund_rate"


class ExperimentArm(BaseModel):
    key: str
    plan_id: PydanticObjectId
    price_cents: int
    traffic_share: float
    control: bool = False


class Guardrail(BaseModel):
    metric: GuardrailMetric
    # Largest tolerated absolute increase of the rate over control (0.02 = 2 points).
    max_increase: float


class SegmentState(BaseModel):
    """A target segment's own lifecycle: the experiment paused, resumed, stopped (completed)
    or retired for that segment only. Segments without an entry run with the experiment."""

    segment_id: PydanticObjectId
    status: str
    changed_at: datetime
    changed_by: str
    reason: str | None = None


class Experiment(TenantDocument):
    product_id: PydanticObjectId
    key: str
    name: str
    hypothesis: str = ""
    status: str = ExperimentStatus.DRAFT
    arms: list[ExperimentArm] = Field(default_factory=list)
    goal: ExperimentGoal = ExperimentGoal.OPTIMIZATION
    target_segment_ids: list[PydanticObjectId] = Field(default_factory=list)
    segment_states: list[SegmentState] = Field(default_factory=list)
    rollout: float = 1.0
    primary_metric: PrimaryMetric = PrimaryMetric.CONVERSION
    guardrails: list[Guardrail] = Field(default_factory=list)
    minimum_detectable_effect: float = 0.1
    alpha: float = 0.05
    power: float = 0.8
    baseline_conversion_rate: float = 0.05
    planned_sample_size_per_arm: int = 0
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    last_computed_at: datetime | None = None

    class Settings:
        name = "experiments"

    def control_arm(self) -> ExperimentArm:
        """The flagged control arm; experiments written before the flag use `control`."""
        flagged = [arm for arm in self.arms if arm.control]
        named = [arm for arm in self.arms if arm.key == "control"]
        return (flagged or named or self.arms)[0]

    def segment_state(self, segment_id: ObjectId) -> SegmentState | None:
        return next((s for s in self.segment_states if s.segment_id == segment_id), None)

    def own_segment_status(self, segment_id: ObjectId) -> str:
        """What the segment's own actions made it: running unless paused, stopped or retired."""
        state = self.segment_state(segment_id)
        return state.status if state else ExperimentStatus.RUNNING

    def segment_status(self, segment_id: ObjectId) -> str:
        """Where the segment stands: stopped or retired for good once so, otherwise the
        experiment's status unless that is running, then the segment's own."""
        own = self.own_segment_status(segment_id)
        if own in SEGMENT_FINAL or self.status == ExperimentStatus.RUNNING:
            return own
        return self.status


class ExperimentEvent(TenantDocument):
    experiment_id: PydanticObjectId
    event_id: str
    unit_id: str
    arm: str
    kind: str  # exposure | conversion | revenue | refund | churn
    revenue_cents: int = 0
    occurred_at: datetime

    class Settings:
        name = "experiment_events"
        indexes = [[("tenant_id", 1), ("event_id", 1)]]


class ExperimentUnit(TenantDocument):
    """One unit's totals in one experiment; flags are 0/1 so re-flushing them is harmless."""

    experiment_id: PydanticObjectId
    unit_id: str
    arm: str
    exposed: int = 0
    converted: int = 0
    refunded: int = 0
    churned: int = 0
    revenue_cents: int = 0
    # Pre-experiment value of the metric (CUPED's covariate X), in cents.
    covariate: int = 0
    segment_id: PydanticObjectId | None = None  # as the unit's events stated it

    class Settings:
        name = "experiment_units"
        indexes = [
            IndexModel(
                [("tenant_id", ASCENDING), ("experiment_id", ASCENDING), ("unit_id", ASCENDING)],
                unique=True,
            )
        ]
