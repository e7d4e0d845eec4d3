"""Data versions: a snapshot of a plan or segment after each change, with who and why."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId
from pydantic import Field

from app.models.base import TenantDocument


class DataVersion(TenantDocument):
    entity_type: str  # "PricingPlan" | "CustomerSegment"
    entity_id: PydanticObjectId
    number: int  # 1, 2, ... per entity
    snapshot: dict[str, Any] = Field(default_factory=dict)  # the editable fields
    actor: str = ""
    reason: str = ""

    class Settings:
        name = "data_versions"
        indexes = [[("tenant_id", 1), ("entity_id", 1), ("number", -1)]]
