"""Competitor and market intelligence of a product (the seed's CompetitorAnalysis and
MarketIntelligence): competitors' prices over time, where they came from, and the AI
summary of the product's positioning against them."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.ai import Finding, Provenance
from app.models.base import TenantDocument


class IntelSource(StrEnum):
    MANUAL = "manual"  # typed in by a user
    API = "api"  # pushed by an integration
    DOCS = "docs"  # read from the competitor's documentation or pricing page


class PricePoint(BaseModel):
    """One observed price of one of the competitor's plans (the seed's TimeseriesData)."""

    date: date
    price_cents: int
    plan_name: str


class CompetitorAnalysis(TenantDocument):
    """Names one of the product's `competitors` (their website and list plans stay there);
    adds the observed price series, the comparison and the market position."""

    product_id: PydanticObjectId
    competitor_name: str
    price_points: list[PricePoint] = Field(default_factory=list)
    feature_comparison: dict[str, str] = Field(default_factory=dict)
    market_position: str = ""
    source: IntelSource = IntelSource.MANUAL

    class Settings:
        name = "competitor_analyses"
        indexes = [[("tenant_id", 1), ("product_id", 1), ("competitor_name", 1)]]


class TrendPoint(BaseModel):
    date: date
    value: float


class MarketIntelligence(TenantDocument):
    """One per product: the market it sells into, as the tenant last stated it."""

    product_id: PydanticObjectId
    market_segment: str = ""
    market_size_cents: int | None = None
    growth_rate: float | None = None  # yearly, 0.12 is 12%
    pricing_trends: list[TrendPoint] = Field(default_factory=list)
    key_insights: list[str] = Field(default_factory=list)
    data_date: date | None = None
    source: IntelSource = IntelSource.MANUAL

    class Settings:
        name = "market_intelligence"
        indexes = [[("tenant_id", 1), ("product_id", 1)]]


class PositioningSummary(TenantDocument):
    """The AI (or offline) summary of the product's prices against its competitors'."""

    product_id: PydanticObjectId
    summary: str
    findings: list[Finding] = Field(default_factory=list)
    facts: dict[str, float] = Field(default_factory=dict)  # the figures it was given
    provenance: Provenance

    class Settings:
        name = "positioning_summaries"
        indexes = [[("tenant_id", 1), ("product_id", 1), ("created_at", -1)]]
