"""The per-request (or per-WebSocket) context every resolver receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import strawberry
from starlette.requests import Request
from starlette.websockets import WebSocket

from app.errors import Unauthenticated
from app.models import TenantScope
from app.resolvers.audit import AuditTrail, RequestInfo
from app.resolvers.ctx import ResolverCtx
from app.resolvers.principal import Principal
from app.runtime import Services
from app.schema.loaders import Loaders


@dataclass
class Context:
    request: Request | WebSocket
    response: Any
    services: Services
    principal: Principal | None = None
    connection_params: dict[str, Any] | None = None  # the WebSocket's connection_init payload
    audit: AuditTrail = field(default_factory=AuditTrail)  # replaced for each mutation
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        """This request's DataLoaders (app/schema/loaders.py), made on first use."""
        if self._loaders is None:
            self._loaders = Loaders(lambda: self.scope)
        return self._loaders

    @property
    def ctx(self) -> ResolverCtx:
        if self.principal is None:
            raise Unauthenticated("sign in first: send 'Authorization: Bearer <token or key>'")
        return ResolverCtx(self.principal, self.services, self.audit)

    @property
    def scope(self) -> TenantScope:
        return self.ctx.scope

    @property
    def client_ip(self) -> str:
        client = self.request.client
        return client.host if client else "unknown"

    def request_info(self) -> RequestInfo:
        return RequestInfo(
            request_id=self.request_id,
            ip=self.client_ip,
            user_agent=self.request.headers.get("user-agent"),
        )


Info: TypeAlias = strawberry.Info[Context, None]
