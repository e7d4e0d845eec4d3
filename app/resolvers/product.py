"""Products: create and read what a tenant sells."""

from __future__ import annotations

from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import Product
from app.resolvers.ctx import ResolverCtx

NAME_MAX = 200
DESCRIPTION_MAX = 5000
TOPIC = "products"


def validate_product(name: str, description: str) -> None:
    issues = []
    if not name.strip():
        issues.append(FieldIssue(("input", "name"), "must not be empty"))
    if len(name) > NAME_MAX:
        issues.append(FieldIssue(("input", "name"), f"must be at most {NAME_MAX} characters"))
    if len(description) > DESCRIPTION_MAX:
        issues.append(
            FieldIssue(("input", "description"), f"must be at most {DESCRIPTION_MAX} characters")
        )
    if issues:
        raise ValidationFailed(issues)


async def create_product(ctx: ResolverCtx, name: str, description: str = "") -> Product:
    validate_product(name, description)
    name = name.strip()
    if await ctx.scope.find(Product, {"name": name}).count():
        raise Conflict(f"a product named {name!r} already exists")
    product = await ctx.scope.insert(
        Product(tenant_id=ctx.tenant_id, name=name, description=description)
    )
    ctx.audit.record("Product", product.id, after=product)
    await ctx.publish(TOPIC, "productCreated", {"productId": str(product.id)})
    return product
