"""Customer segments: a filter over customer records, with metrics computed from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument

DEFAULT_GROWTH_DAYS = 90


class SegmentGrowth(BaseModel):
    """Change between the customers active at the period's start and at its end, as a
    fraction (0.1 = +10%); None where the start value is zero."""

    period_days: int = DEFAULT_GROWTH_DAYS
    period_start: datetime | None = None
    period_end: datetime | None = None
    users_at_start: int = 0
    users_at_end: int = 0
    users: float | None = None
    revenue: float | None = None
    usage: float | None = None


class SegmentMetrics(BaseModel):
    total_users: int = 0
    active_users: int = 0
    avg_revenue_cents: int = 0
    avg_usage: float = 0.0
    # Active customers' mean usage against the product's (100 = the product's average).
    engagement_score: float | None = None
    churn_rate: float = 0.0
    growth: SegmentGrowth = Field(default_factory=SegmentGrowth)
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
