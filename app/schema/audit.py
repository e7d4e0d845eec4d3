"""The audit trail in the API, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app.models import identity
from app.models.audit import AuditEntry as AuditEntryModel
from app.resolvers import audit as use_case
from app.schema.context import Info
from app.schema.fields import query
from app.schema.pagination import Connection, connection


@strawberry.type
class AuditActor:
    kind: str
    id: str | None
    label: str


@strawberry.type
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor: AuditActor
    action: str
    outcome: str
    entity_type: str | None
    entity_id: str | None
    before: JSON | None
    after: JSON | None
    diff: JSON
    request_id: str
    ip: str | None
    user_agent: str | None

    @classmethod
    def from_model(cls, doc: AuditEntryModel) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(doc.id)),
            at=doc.at,
            actor=AuditActor(kind=doc.actor.kind, id=doc.actor.id, label=doc.actor.label),
            action=doc.action,
            outcome=doc.outcome,
            entity_type=doc.entity_type,
            entity_id=doc.entity_id,
            before=cast(JSON, doc.before),
            after=cast(JSON, doc.after),
            diff=cast(JSON, doc.diff),
            request_id=doc.request_id,
            ip=doc.ip,
            user_agent=doc.user_agent,
        )


@strawberry.input
class AuditFilter:
    action: str | None = None
    actor_id: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@strawberry.type
class AuditQuery:
    @query(identity.Role.ADMIN, description="Audit entries, oldest first, filtered.")
    async def audit_log(
        self,
        info: Info,
        filter: AuditFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AuditEntry]:
        f = filter or AuditFilter()
        page = await use_case.search(
            info.context.ctx.tenant_id,
            (first, after),
            action=f.action,
            actor_id=f.actor_id,
            entity_type=f.entity_type,
            entity_id=f.entity_id,
            since=f.since,
            until=f.until,
        )
        return connection(page, AuditEntry.from_model)
