"""Monthly revenue and active subscriptions per product x segment x plan."""

from __future__ import annotations

from datetime import date

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument


class RevenuePoint(BaseModel):
    period: date  # first day of the month
    revenue_cents: int
    active_subscriptions: int


class RevenueSeries(TenantDocument):
    product_id: PydanticObjectId
    segment_id: PydanticObjectId
    plan_id: PydanticObjectId
    currency: str = "USD"
    points: list[RevenuePoint] = Field(default_factory=list)

    class Settings:
        name = "revenue_series"
