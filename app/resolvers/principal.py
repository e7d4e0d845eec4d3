"""Who is calling: established once per request from its credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.models.identity import Role, Tier


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    tier: Tier
    role: Role
    kind: str  # "user" or "apiKey"
    id: str  # the user's or the key's id
    label: str  # the user's e-mail or the key's name, for the audit trail
    token_id: str | None = None  # the access token's jti
    expires_at: datetime | None = None  # when the credentials stop being valid

    def allows(self, required: Role) -> bool:
        return self.role.allows(required)
