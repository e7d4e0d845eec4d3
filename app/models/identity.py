"""Tenants, their users, sessions (refresh tokens), API keys and invitations.

Authentication has to find a user or key before any tenant is known, so this module holds
the only unscoped lookups of the application: by e-mail, by refresh-token hash and by
API-key hash. Everything after authentication goes through a TenantScope.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from beanie import Document, Indexed, PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument, utcnow


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self]

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


ROLE_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.ADMIN: 2}


class Tier(StrEnum):
    FREE = "free"
    STARTER = "starter"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class Tenant(Document):
    # A short slug rather than an ObjectId: it prefixes Redis keys and event topics.
    id: str  # type: ignore[assignment]
    name: str
    tier: Tier = Tier.FREE
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "tenants"


class User(TenantDocument):
    email: Annotated[str, Indexed(unique=True)]
    name: str = ""
    password_hash: str | None = None  # None until an invited user accepts
    role: Role = Role.VIEWER
    active: bool = True
    last_login_at: datetime | None = None

    class Settings:
        name = "users"


class RefreshToken(TenantDocument):
    user_id: PydanticObjectId
    token_hash: Annotated[str, Indexed(unique=True)]
    family: str  # all tokens rotated from one login; reuse of a spent one revokes the family
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    class Settings:
        name = "refresh_tokens"


class ApiKey(TenantDocument):
    name: str
    key_hash: Annotated[str, Indexed(unique=True)]
    hint: str
    role: Role
    created_by: str  # user, key or "system"
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    class Settings:
        name = "api_keys"


class Invite(TenantDocument):
    email: str
    role: Role
    token_hash: Annotated[str, Indexed(unique=True)]
    invited_by: str
    expires_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None  # by an admin, or with the inviter's deactivation

    class Settings:
        name = "invites"


class Member(BaseModel):
    user_id: PydanticObjectId
    role: Role


class ProjectProductRole(StrEnum):
    PRIMARY = "primary"  # the product the project prices
    COMPARISON = "comparison"  # looked at alongside, e.g. a sibling product
    ARCHIVED = "archived"


class ProjectProduct(BaseModel):
    product_id: PydanticObjectId
    role: ProjectProductRole = ProjectProductRole.PRIMARY


class DataSources(BaseModel):
    """Where the project's data comes from, as the team describes it (URLs, tables, files)."""

    product_data: str = ""
    customer_data: str = ""
    revenue_data: str = ""


class Project(TenantDocument):
    """A workspace inside a tenant: the scope the canvas and analyses belong to."""

    name: str
    description: str = ""
    active: bool = True
    members: list[Member] = Field(default_factory=list)
    products: list[ProjectProduct] = Field(default_factory=list)
    data_sources: DataSources = Field(default_factory=DataSources)
    ai_instructions: str = ""  # standing guidance for the AI analyses of this project
    # Non-secret settings (flags, names, thresholds); credentials go to tenant secrets.
    environment_config: dict[str, str | int | float | bool] = Field(default_factory=dict)

    class Settings:
        name = "projects"
