"""Products: what a tenant sells, what it costs to serve and whom it competes with."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from app.models.base import TenantDocument


class CostPer(StrEnum):
    UNIT = "unit"  # each billed unit (seat, usage unit) costs this much
    MONTH = "month"  # a fixed monthly cost of serving one customer


class CostLine(BaseModel):
    """One line of unit-level COGS, e.g. "GPU inference", 120 cents per unit."""

    name: str
    amount_cents: int
    per: CostPer = CostPer.UNIT


class CompetitorPlan(BaseModel):
    name: str
    price_cents: int
    billing_period: str = "month"


class Competitor(BaseModel):
    name: str
    website: str = ""
    description: str = ""
    plans: list[CompetitorPlan] = Field(default_factory=list)


class Product(TenantDocument):
    name: str
    description: str = ""
    active: bool = True
    icp_description: str = ""  # the ideal customer profile
    feature_summary: str = ""
    cost_lines: list[CostLine] = Field(default_factory=list)
    competitors: list[Competitor] = Field(default_factory=list)
    documentation_urls: list[str] = Field(default_factory=list)

    class Settings:
        name = "products"
