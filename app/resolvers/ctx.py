"""What a use case runs with: one tenant's scope and the process's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.bus import Event
from app.models import TenantScope
from app.outbox import publish_or_park
from app.runtime import Services


@dataclass(frozen=True)
class ResolverCtx:
    scope: TenantScope
    services: Services

    @property
    def tenant_id(self) -> str:
        return self.scope.tenant_id

    async def publish(self, topic: str, type: str, data: dict[str, Any]) -> Event | None:
        """Publish the event of a stored change; parked for later if Redis is down."""
        return await publish_or_park(self.services.bus, self.scope, topic, type, data)
