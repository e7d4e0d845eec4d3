"""AI pricing recommendations per product and segment (the seed's RecommendedPricingModel):
the option chosen among those the platform projected, its numbers (the platform's own), a
new revenue forecast as chart points, and the provider's rationale with verified citations."""

from __future__ import annotations

from datetime import date

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.ai import Finding, Provenance
from app.models.base import TenantDocument


class ChartPoint(BaseModel):
    period: date
    value: float  # revenue in cents, realistic scenario
    lower: float  # the pessimistic and optimistic scenarios' bounds
    upper: float


class PricedOption(BaseModel):
    id: str
    kind: str  # keep | move | reprice
    label: str
    plan_id: PydanticObjectId  # the plan moved to, or repriced, or kept
    price_cents: int
    psychological: bool = False  # the price ends in .99
    realistic_change: float | None  # relative revenue change over the horizon
    optimistic_change: float | None
    pessimistic_change: float | None
    realistic_change_cents: int


class ElasticityUsed(BaseModel):
    estimate: float
    lower: float
    upper: float
    source: str  # experiment | assumption | default
    confidence: str
    experiment_id: PydanticObjectId | None = None
    experiment_name: str | None = None


class PricingRecommendation(TenantDocument):
    product_id: PydanticObjectId
    segment_id: PydanticObjectId
    prompt: str = ""
    chosen: PricedOption
    options: list[PricedOption] = Field(default_factory=list)
    elasticity: ElasticityUsed
    months: int
    currency: str = "USD"
    forecast: list[ChartPoint] = Field(default_factory=list)  # new_revenue_forecast_ts_data
    baseline: list[ChartPoint] = Field(default_factory=list)  # staying at today's prices
    rationale: str
    findings: list[Finding] = Field(default_factory=list)
    confidence: str  # high | medium | low
    provenance: Provenance

    class Settings:
        name = "pricing_recommendations"
        indexes = [[("tenant_id", 1), ("product_id", 1), ("segment_id", 1), ("created_at", -1)]]
