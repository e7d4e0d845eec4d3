"""Pricing plans: the price points a product is sold at, with the history of their prices."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument, utcnow


class BillingUnit(StrEnum):
    SEAT = "seat"
    USAGE_UNIT = "usage_unit"
    FLAT = "flat"


class BillingPeriod(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    ONE_TIME = "one_time"


class PriceChange(BaseModel):
    price_cents: int
    changed_at: datetime = Field(default_factory=utcnow)
    changed_by: str = ""
    reason: str = ""


class PricingPlan(TenantDocument):
    product_id: PydanticObjectId
    name: str
    # Money in integer minor units (cents) of `currency`.
    unit_price_cents: int
    currency: str = "USD"
    billing_unit: BillingUnit = BillingUnit.SEAT
    billing_period: BillingPeriod = BillingPeriod.MONTH
    unit_cost_cents: int = 0
    active: bool = True
    description: str = ""
    features: list[str] = Field(default_factory=list)
    min_units: int = 1
    unit_calculation_logic: str = ""  # e.g. "active seats at the end of the billing period"
    price_history: list[PriceChange] = Field(default_factory=list)  # oldest first

    class Settings:
        name = "pricing_plans"
