"""Pricing plans: the price points a product is sold at."""

from __future__ import annotations

from beanie import PydanticObjectId

from app.models.base import TenantDocument


class PricingPlan(TenantDocument):
    product_id: PydanticObjectId
    name: str
    # Money in integer minor units (cents) of `currency`.
    unit_price_cents: int
    currency: str = "USD"
    billing_unit: str = "seat"
    billing_period: str = "month"
    unit_cost_cents: int = 0
    active: bool = True

    class Settings:
        name = "pricing_plans"
