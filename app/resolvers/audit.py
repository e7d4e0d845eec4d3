"""The audit trail: what each mutation changed, written once per mutation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.models import TenantScope
from app.models.audit import Actor, AuditEntry
from app.resolvers.page import Page, PageArgs, find_page

# Stored hashes and ciphertexts never enter the trail, even though they are not secrets.
REDACTED = {"password_hash", "token_hash", "key_hash", "sealed", "revision", "updated_at"}
ANONYMOUS_TENANT = "_anonymous"  # failed sign-ins of unknown accounts; no tenant reads it


@dataclass
class Change:
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def snapshot(value: BaseModel | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    # Free-form fields (a segment's filter) hold BSON values such as ObjectId: as text.
    data = (
        value.model_dump(mode="json", fallback=str) if isinstance(value, BaseModel) else dict(value)
    )
    return {key: item for key, item in data.items() if key not in REDACTED}


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Per changed field: {"from": old, "to": new}."""
    before, after = before or {}, after or {}
    return {
        key: {"from": before.get(key), "to": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


@dataclass
class AuditTrail:
    """Filled by a mutation's use case; the schema writes it as one entry when it ends."""

    changes: list[Change] = field(default_factory=list)
    tenant_id: str | None = None  # for mutations before sign-in: the tenant they acted on
    actor: Actor | None = None

    def record(
        self,
        entity_type: str,
        entity_id: object,
        before: BaseModel | dict[str, Any] | None = None,
        after: BaseModel | dict[str, Any] | None = None,
    ) -> None:
        entity = str(entity_id) if entity_id is not None else None
        self.changes.append(Change(entity_type, entity, snapshot(before), snapshot(after)))


@dataclass(frozen=True)
class RequestInfo:
    request_id: str
    ip: str | None
    user_agent: str | None


async def write_entry(
    trail: AuditTrail,
    tenant_id: str | None,
    actor: Actor,
    action: str,
    outcome: str,
    request: RequestInfo,
) -> AuditEntry:
    change = trail.changes[-1] if trail.changes else None
    tenant = tenant_id or trail.tenant_id or ANONYMOUS_TENANT
    entry = AuditEntry(
        tenant_id=tenant,
        actor=trail.actor or actor,
        action=action,
        outcome=outcome,
        entity_type=change.entity_type if change else None,
        entity_id=change.entity_id if change else None,
        before=change.before if change else None,
        after=change.after if change else None,
        diff=diff(change.before, change.after) if change else {},
        request_id=request.request_id,
        ip=request.ip,
        user_agent=request.user_agent,
    )
    return await TenantScope(tenant).insert(entry)


async def search(
    tenant_id: str,
    page: PageArgs,
    *,
    action: str | None = None,
    actor_id: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEntry]:
    """A page of the tenant's audit entries that match every filter given, oldest first."""
    query: dict[str, Any] = {}
    for name, value in (
        ("action", action),
        ("actor.id", actor_id),
        ("entity_type", entity_type),
        ("entity_id", entity_id),
    ):
        if value is not None:
            query[name] = value
    if since or until:
        query["at"] = {
            **({"$gte": since} if since else {}),
            **({"$lt": until} if until else {}),
        }
    return await find_page(TenantScope(tenant_id), AuditEntry, query, page)
