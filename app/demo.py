"""The demo tenant of `serve --seed`: its dataset, an admin login and an API key to try."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from app.models import TenantScope
from app.models.identity import Role, Tenant, Tier, User
from app.resolvers.api_key import create_api_key
from app.resolvers.ctx import system_ctx
from app.runtime import Services
from app.security.passwords import hash_password_async
from app.seed import seed

DEMO_EMAIL = "demo@example.com"
# GraphiQL's page (Strawberry's) loads React and GraphiQL's scripts from unpkg.com.
OFFLINE_NOTE = (
    'GraphiQL loads its scripts from unpkg.com: offline it stays on "Loading..."; '
    "POST queries to the same address with curl or any GraphQL client instead"
)


@dataclass(frozen=True)
class DemoAccess:
    tenant_id: str
    email: str
    password: str
    api_key: str
    counts: dict[str, int]


async def prepare_demo(services: Services) -> DemoAccess:
    """Seed the demo tenant once; give it a fresh password and API key on every start."""
    tenant_id = services.settings.demo_tenant
    if await Tenant.get(tenant_id) is None:
        await Tenant(id=tenant_id, name="Demo company", tier=Tier.ENTERPRISE).insert()
    scope = TenantScope(tenant_id)
    manifest = await seed(scope)
    password = secrets.token_urlsafe(12)
    password_hash = await hash_password_async(password)
    admin = await scope.find(User, {"email": DEMO_EMAIL}).first_or_none()
    if admin is None:
        admin = User(tenant_id=tenant_id, email=DEMO_EMAIL, name="Demo admin", role=Role.ADMIN)
        admin.password_hash = password_hash
        admin = await scope.insert(admin)
    else:
        admin = await scope.update(admin, {"password_hash": password_hash, "active": True})
    ctx = system_ctx(services, tenant_id)
    key = await create_api_key(ctx, "demo", Role.ADMIN)
    return DemoAccess(tenant_id, DEMO_EMAIL, password, key.key, manifest.counts)


def banner(access: DemoAccess, url: str) -> str:
    return "\n".join(
        [
            "",
            f"  GraphiQL   {url}",
            f"  offline?   {OFFLINE_NOTE}",
            f'  sign in    mutation {{ login(email: "{access.email}", '
            f'password: "{access.password}") {{ ... on AuthPayload {{ accessToken }} }} }}',
            f"  or header  Authorization: Bearer {access.api_key}",
            f"  demo data  tenant {access.tenant_id!r}: {access.counts}",
            "",
        ]
    )
