"""What a use case runs with: one tenant's scope and the process's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.bus import Event
from app.models import TenantScope
from app.runtime import Services


@dataclass(frozen=True)
class ResolverCtx:
    scope: TenantScope
    services: Services

    @property
    def tenant_id(self) -> str:
        return self.scope.tenant_id

    async def publish(self, topic: str, type: str, data: dict[str, Any]) -> Event:
        return await self.services.bus.publish(self.tenant_id, topic, type, data)
