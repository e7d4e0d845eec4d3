"""Monthly revenue and active subscriptions per product x segment x plan."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument


class RevenuePoint(BaseModel):
    period: date  # first day of the month
    revenue_cents: int
    active_subscriptions: int


class ForecastPoint(BaseModel):
    period: date
    value: float
    lower: float  # of the prediction interval at `level`
    upper: float


class SeriesForecast(BaseModel):
    model: str
    level: float
    computed_at: datetime
    revenue: list[ForecastPoint] = Field(default_factory=list)
    active_subscriptions: list[ForecastPoint] = Field(default_factory=list)


class RevenueSeries(TenantDocument):
    api_name: ClassVar[str] = "RevenueContribution"
    product_id: PydanticObjectId
    segment_id: PydanticObjectId
    plan_id: PydanticObjectId
    currency: str = "USD"
    points: list[RevenuePoint] = Field(default_factory=list)
    forecast: SeriesForecast | None = None  # recomputed by the revenue_forecast workflow

    class Settings:
        name = "revenue_series"
