"""Products: create, read, update and delete what a tenant sells."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlsplit

from app.bus import Event
from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import Customer, CustomerSegment, PricingPlan, Product
from app.models.product import Competitor, CostLine
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import Page, PageArgs, find_page
from app.resolvers.version import delete_at, load_at

NAME_MAX = 200
DESCRIPTION_MAX = 5000
MAX_ITEMS = 50  # cost lines, competitors, their plans, documentation URLs
URL_MAX = 2000
AMOUNT_MAX = 10**12  # cents; a sanity bound, far above any real price or cost
TOPIC = "products"
TEXTS = {"description": DESCRIPTION_MAX, "icp_description": DESCRIPTION_MAX}
TEXTS |= {"feature_summary": DESCRIPTION_MAX}


def is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and len(value) <= URL_MAX
        and not any(c.isspace() for c in value)
    )


def _name_issues(path: tuple[str, ...], name: str) -> list[FieldIssue]:
    if not name.strip():
        return [FieldIssue(path, "must not be empty")]
    if len(name) > NAME_MAX:
        return [FieldIssue(path, f"must be at most {NAME_MAX} characters")]
    return []


def _amount_issues(path: tuple[str, ...], cents: int) -> list[FieldIssue]:
    if not 0 <= cents <= AMOUNT_MAX:
        return [FieldIssue(path, f"must be between 0 and {AMOUNT_MAX} cents")]
    return []


def _cost_issues(lines: list[CostLine]) -> list[FieldIssue]:
    issues = []
    for i, line in enumerate(lines):
        path = ("input", "costLines", str(i))
        issues += _name_issues((*path, "name"), line.name)
        issues += _amount_issues((*path, "amountCents"), line.amount_cents)
    return issues


def _competitor_issues(competitors: list[Competitor]) -> list[FieldIssue]:
    issues = []
    for i, competitor in enumerate(competitors):
        path = ("input", "competitors", str(i))
        issues += _name_issues((*path, "name"), competitor.name)
        if competitor.website and not is_web_url(competitor.website):
            issues.append(FieldIssue((*path, "website"), "must be an http(s) URL"))
        if len(competitor.description) > DESCRIPTION_MAX:
            issues.append(FieldIssue((*path, "description"), "too long"))
        if len(competitor.plans) > MAX_ITEMS:
            issues.append(FieldIssue((*path, "plans"), f"at most {MAX_ITEMS}"))
        for j, plan in enumerate(competitor.plans):
            issues += _name_issues((*path, "plans", str(j), "name"), plan.name)
            issues += _amount_issues((*path, "plans", str(j), "priceCents"), plan.price_cents)
    return issues


def validate_product(fields: dict[str, Any]) -> None:
    """Checks the fields present in `fields` (a create's or an update's)."""
    issues: list[FieldIssue] = []
    if "name" in fields:
        issues += _name_issues(("input", "name"), fields["name"])
    for key, limit in TEXTS.items():
        if len(fields.get(key) or "") > limit:
            issues.append(FieldIssue(("input", key), f"must be at most {limit} characters"))
    for key, camel in (("cost_lines", "costLines"), ("competitors", "competitors")):
        if len(fields.get(key) or []) > MAX_ITEMS:
            issues.append(FieldIssue(("input", camel), f"at most {MAX_ITEMS} items"))
    issues += _cost_issues(fields.get("cost_lines") or [])
    issues += _competitor_issues(fields.get("competitors") or [])
    urls = fields.get("documentation_urls") or []
    if len(urls) > MAX_ITEMS:
        issues.append(FieldIssue(("input", "documentationUrls"), f"at most {MAX_ITEMS} URLs"))
    for i, url in enumerate(urls):
        if not is_web_url(url):
            issues.append(FieldIssue(("input", "documentationUrls", str(i)), "not an http(s) URL"))
    if issues:
        raise ValidationFailed(issues)


async def _unique_name(ctx: ResolverCtx, name: str, own_id: object = None) -> None:
    query: dict[str, Any] = {"name": name}
    if own_id is not None:
        query["_id"] = {"$ne": own_id}
    if await ctx.scope.find(Product, query).count():
        raise Conflict(f"a product named {name!r} already exists")


async def create_product(
    ctx: ResolverCtx, name: str, description: str = "", **extra: Any
) -> Product:
    fields = {"name": name, "description": description, **extra}
    validate_product(fields)
    fields["name"] = name.strip()
    await _unique_name(ctx, fields["name"])
    product = await ctx.scope.insert(Product(tenant_id=ctx.tenant_id, **fields))
    ctx.audit.record("Product", product.id, after=product)
    await ctx.publish(TOPIC, "productCreated", {"productId": str(product.id)})
    return product


async def update_product(
    ctx: ResolverCtx, product_id: str, revision: int, changes: dict[str, Any]
) -> Product:
    """Applies the fields present in `changes`; `active: false` deactivates the product."""
    product = await load_at(ctx.scope, Product, product_id, revision)
    validate_product(changes)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        await _unique_name(ctx, changes["name"], product.id)
    stored = {
        k: [v.model_dump() for v in val] if k in ("cost_lines", "competitors") else val
        for k, val in changes.items()
    }
    updated = await ctx.scope.update(product, stored)
    ctx.audit.record("Product", product.id, before=product, after=updated)
    await ctx.publish(TOPIC, "productUpdated", {"productId": str(product.id)})
    return updated


async def delete_product(ctx: ResolverCtx, product_id: str, revision: int) -> Product:
    """Only a product nothing refers to; one with plans, segments or customers is
    deactivated instead (`updateProduct(active: false)`), so no history is orphaned."""
    product = await load_at(ctx.scope, Product, product_id, revision)
    for model in (PricingPlan, CustomerSegment, Customer):
        if await ctx.scope.find(model, {"product_id": product.id}).first_or_none():
            raise Conflict(
                f"product {product_id} still has {model.__name__} documents; deactivate it"
            )
    await delete_at(ctx.scope, product)
    ctx.audit.record("Product", product.id, before=product)
    await ctx.publish(TOPIC, "productDeleted", {"productId": str(product.id)})
    return product


def follow(ctx: ResolverCtx, since: str | None) -> AsyncGenerator[Event, None]:
    """Product changes: created, updated, deleted."""
    return ctx.follow(TOPIC, since)


async def list_products(ctx: ResolverCtx, active: bool | None, page: PageArgs) -> Page[Product]:
    filters = {} if active is None else {"active": active}
    return await find_page(ctx.scope, Product, filters, page)


async def get_product(ctx: ResolverCtx, product_id: str) -> Product | None:
    return await ctx.scope.get(Product, product_id)
