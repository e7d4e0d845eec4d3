"""Price experiments and the unit-level events they are analysed from."""

from __future__ import annotations

from datetime import datetime

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument


class ExperimentArm(BaseModel):
    key: str
    plan_id: PydanticObjectId
    price_cents: int
    traffic_share: float


class Experiment(TenantDocument):
    product_id: PydanticObjectId
    key: str
    name: str
    hypothesis: str = ""
    status: str = "draft"
    arms: list[ExperimentArm] = Field(default_factory=list)

    class Settings:
        name = "experiments"


class ExperimentEvent(TenantDocument):
    experiment_id: PydanticObjectId
    event_id: str
    unit_id: str
    arm: str
    kind: str  # exposure | conversion
    revenue_cents: int = 0
    occurred_at: datetime

    class Settings:
        name = "experiment_events"
        indexes = [[("tenant_id", 1), ("event_id", 1)]]
