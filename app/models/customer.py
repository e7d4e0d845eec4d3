"""Customer records: the rows segments are defined over and metrics computed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from pydantic import Field

from app.models.base import TenantDocument


class Customer(TenantDocument):
    product_id: PydanticObjectId
    external_id: str
    plan_id: PydanticObjectId | None = None
    region: str = ""
    company_size: str = ""
    monthly_revenue_cents: int = 0
    usage: float = 0.0
    signup_at: datetime
    churned_at: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    import_id: PydanticObjectId | None = None  # the bulk import (run) that wrote it

    class Settings:
        name = "customers"
        indexes = [[("tenant_id", 1), ("product_id", 1), ("external_id", 1)]]
