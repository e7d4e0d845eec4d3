"""What a use case runs with: the caller, their tenant's scope and the process's services."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from app.bus import Event
from app.errors import Forbidden
from app.models import TenantScope
from app.models.identity import Role, Tier
from app.outbox import publish_or_park
from app.resolvers.audit import AuditTrail
from app.resolvers.principal import Principal
from app.runtime import Services


@dataclass(frozen=True)
class ResolverCtx:
    principal: Principal
    services: Services
    audit: AuditTrail = field(default_factory=AuditTrail)

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def scope(self) -> TenantScope:
        return TenantScope(self.principal.tenant_id)

    def require(self, role: Role) -> None:
        """For checks that depend on the input (the schema checks the field's own role)."""
        if not self.principal.allows(role):
            raise Forbidden(f"this needs the {role.value} role")

    async def publish(self, topic: str, type: str, data: dict[str, Any]) -> Event | None:
        """Publish the event of a stored change; parked for later if Redis is down."""
        return await publish_or_park(self.services.bus, self.scope, topic, type, data)

    async def follow(
        self, topic: str, since: str | None, where: Callable[[Event], bool] | None = None
    ) -> AsyncGenerator[Event, None]:
        """The tenant's events of `topic` (those `where` accepts): with `since`, every
        stored one after it first, then live ones."""
        events = self.services.bus.subscribe(self.tenant_id, topic, since)
        async with aclosing(events):
            async for event in events:
                if where is None or where(event):
                    yield event


def system_ctx(services: Services, tenant_id: str, tier: Any = None) -> ResolverCtx:
    """The context jobs and the CLI act with on a tenant's behalf."""
    principal = Principal(
        tenant_id=tenant_id,
        tier=tier or Tier.ENTERPRISE,
        role=Role.ADMIN,
        kind="system",
        id="system",
        label="system",
    )
    return ResolverCtx(principal, services)
