"""Orders (the purchase history customer value is fitted on) and the fitted value model."""

from __future__ import annotations

from datetime import datetime

from beanie import PydanticObjectId

from app.models.base import TenantDocument


class Order(TenantDocument):
    customer_id: PydanticObjectId
    order_id: str  # the order's id in the tenant's systems: recording it again is a no-op
    amount_cents: int
    at: datetime

    class Settings:
        name = "orders"
        indexes = [
            [("tenant_id", 1), ("order_id", 1)],
            [("tenant_id", 1), ("customer_id", 1), ("at", 1)],
        ]


class CustomerValueModel(TenantDocument):
    """A tenant's BG/NBD (r, alpha, a, b; time in days) and Gamma-Gamma (p, q, gamma; cents)
    fit; the newest one serves `customerValue`."""

    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    gamma: float
    customers: int
    repeat_customers: int
    fitted_at: datetime

    class Settings:
        name = "customer_value_models"
        indexes = [[("tenant_id", 1), ("fitted_at", -1)]]
