"""Events that could not be published when their change was stored (Redis was down)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from app.models.base import TenantDocument


class PendingEvent(TenantDocument):
    topic: str
    type: str
    data: dict[str, Any] = Field(default_factory=dict)
    claimed_at: datetime | None = None  # set while a relay is publishing it

    class Settings:
        name = "pending_events"
