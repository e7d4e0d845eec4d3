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
    sql_where: str = ""  # the SQL WHERE text the filter was written in, if it was
    metrics: SegmentMetrics = Field(default_factory=SegmentMetrics)
    # Bumped by every link change of this segment: link invariants are checked against it.
    link_version: int = 0

    class Settings:
        name = "customer_segments"
