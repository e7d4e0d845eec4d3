"""Tenant-owned third-party credentials (bring-your-own OpenAI or billing keys)."""

from __future__ import annotations

from typing import ClassVar

from app.models.base import TenantDocument
from app.security.crypto import Sealed


class TenantSecret(TenantDocument):
    api_name: ClassVar[str] = "Secret"
    name: str
    sealed: Sealed  # AES-256-GCM, bound to tenant and name
    hint: str  # masked, e.g. "sk-…WXYZ": the only part ever shown again

    class Settings:
        name = "tenant_secrets"
        indexes = [[("tenant_id", 1), ("name", 1)]]
