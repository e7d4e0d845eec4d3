"""Customer segments: a filter over customer records, with metrics computed from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument


class SegmentMetrics(BaseModel):
    total_users: int = 0
    active_users: int = 0
    avg_revenue_cents: int = 0
    churn_rate: float = 0.0
    computed_at: datetime | None = None


class CustomerSegment(TenantDocument):
    product_id: PydanticObjectId
    name: str
    description: str = ""
    # A MongoDB filter over customer fields (validated by the segment filter language).
    filter: dict[str, Any] = Field(default_factory=dict)
    metrics: SegmentMetrics = Field(default_factory=SegmentMetrics)

    class Settings:
        name = "customer_segments"
