"""The audit trail: one entry per mutation, who did what to which entity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.models.base import TenantDocument, utcnow


class Actor(BaseModel):
    kind: str  # user | apiKey | anonymous
    id: str | None = None
    label: str = ""  # e-mail of the user, name of the key


class AuditEntry(TenantDocument):
    actor: Actor
    action: str  # the mutation's name
    outcome: str  # ok, or the typed error / failure
    entity_type: str | None = None
    entity_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    diff: dict[str, Any] = Field(default_factory=dict)
    request_id: str = ""
    ip: str | None = None
    user_agent: str | None = None
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "audit_entries"
        indexes = [[("tenant_id", 1), ("at", -1)]]
