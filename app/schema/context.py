"""The per-request (or per-WebSocket) context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeAlias

import strawberry
from starlette.requests import Request
from starlette.websockets import WebSocket

from app.models import TenantScope
from app.resolvers.ctx import ResolverCtx
from app.runtime import Services


@dataclass
class Context:
    request: Request | WebSocket
    response: Any
    services: Services
    tenant_id: str

    @cached_property
    def scope(self) -> TenantScope:
        return TenantScope(self.tenant_id)

    @cached_property
    def ctx(self) -> ResolverCtx:
        return ResolverCtx(self.scope, self.services)


Info: TypeAlias = strawberry.Info[Context, None]
