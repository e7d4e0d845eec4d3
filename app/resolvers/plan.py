"""Pricing plans: CRUD, the history of their prices and restores of earlier versions."""

from __future__ import annotations

from typing import Any

from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import PricingPlan, Product, SegmentPlanLink
from app.models.base import parse_id
from app.models.plan import PriceChange
from app.resolvers import version
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import Page, PageArgs, find_page
from app.resolvers.product import AMOUNT_MAX, DESCRIPTION_MAX, MAX_ITEMS, NAME_MAX

TOPIC = "plans"
ENTITY = "PricingPlan"
FEATURE_MAX = 300
MIN_UNITS_MAX = 1_000_000
# What a version snapshots and a restore puts back.
EDITABLE = (
    "name",
    "description",
    "features",
    "unit_price_cents",
    "currency",
    "billing_unit",
    "billing_period",
    "unit_cost_cents",
    "min_units",
    "unit_calculation_logic",
    "active",
)


def validate_plan(fields: dict[str, Any]) -> None:
    issues: list[FieldIssue] = []

    def check(key: str, camel: str, ok: bool, message: str) -> None:
        if key in fields and not ok:
            issues.append(FieldIssue(("input", camel), message))

    name = fields.get("name", "x")
    check("name", "name", bool(name.strip()) and len(name) <= NAME_MAX, "1 to 200 characters")
    check(
        "description",
        "description",
        len(fields.get("description", "")) <= DESCRIPTION_MAX,
        "too long",
    )
    for key, camel in (
        ("unit_price_cents", "unitPriceCents"),
        ("unit_cost_cents", "unitCostCents"),
    ):
        check(key, camel, 0 <= fields.get(key, 0) <= AMOUNT_MAX, "must be 0 or more cents")
    check(
        "min_units",
        "minUnits",
        0 <= fields.get("min_units", 0) <= MIN_UNITS_MAX,
        f"must be 0 to {MIN_UNITS_MAX}",
    )
    currency = fields.get("currency", "USD")
    check(
        "currency",
        "currency",
        len(currency) == 3 and currency.isalpha() and currency.isupper(),
        "an ISO 4217 code such as USD",
    )
    check(
        "unit_calculation_logic",
        "unitCalculationLogic",
        len(fields.get("unit_calculation_logic", "")) <= DESCRIPTION_MAX,
        "too long",
    )
    features = fields.get("features", [])
    check(
        "features",
        "features",
        len(features) <= MAX_ITEMS and all(0 < len(f.strip()) <= FEATURE_MAX for f in features),
        f"at most {MAX_ITEMS} non-empty features of at most {FEATURE_MAX} characters",
    )
    if issues:
        raise ValidationFailed(issues)


def snapshot(plan: PricingPlan) -> dict[str, Any]:
    return plan.model_dump(mode="json", include=set(EDITABLE))


async def _active_links(ctx: ResolverCtx, plan: PricingPlan) -> int:
    return await ctx.scope.find(SegmentPlanLink, {"plan_id": plan.id, "active": True}).count()


async def create_plan(
    ctx: ResolverCtx, product_id: str, fields: dict[str, Any], reason: str = ""
) -> PricingPlan:
    validate_plan(fields)
    product = await ctx.scope.require(Product, product_id)
    history = [
        PriceChange(
            price_cents=fields["unit_price_cents"],
            changed_by=ctx.principal.label,
            reason=reason or "created",
        )
    ]
    plan = await ctx.scope.insert(
        PricingPlan(tenant_id=ctx.tenant_id, product_id=product.id, price_history=history, **fields)
    )
    await version.record(ctx, ENTITY, plan.id, snapshot(plan), reason or "created")
    ctx.audit.record(ENTITY, plan.id, after=plan)
    await ctx.publish(TOPIC, "planCreated", {"planId": str(plan.id), "productId": product_id})
    return plan


async def _apply(
    ctx: ResolverCtx, plan: PricingPlan, changes: dict[str, Any], reason: str
) -> PricingPlan:
    validate_plan(changes)
    if changes.get("active") is False and plan.active and await _active_links(ctx, plan):
        raise Conflict("the plan has active segment links; remove or deactivate them first")
    stored = dict(changes)
    price = changes.get("unit_price_cents", plan.unit_price_cents)
    if price != plan.unit_price_cents:
        change = PriceChange(price_cents=price, changed_by=ctx.principal.label, reason=reason)
        stored["price_history"] = [p.model_dump() for p in [*plan.price_history, change]]
    updated = await ctx.scope.update(plan, stored)
    await version.record(ctx, ENTITY, plan.id, snapshot(updated), reason)
    ctx.audit.record(ENTITY, plan.id, before=plan, after=updated)
    data = {"planId": str(plan.id), "productId": str(plan.product_id)}
    await ctx.publish(TOPIC, "planUpdated", data)
    await ctx.publish("canvas", "planUpdated", data)
    return updated


async def update_plan(
    ctx: ResolverCtx, plan_id: str, revision: int, changes: dict[str, Any], reason: str = ""
) -> PricingPlan:
    plan = await version.load_at(ctx.scope, PricingPlan, plan_id, revision)
    return await _apply(ctx, plan, changes, reason)


async def restore_plan_version(
    ctx: ResolverCtx, plan_id: str, revision: int, number: int, reason: str = ""
) -> PricingPlan:
    point = await version.restore_point(
        ctx.scope, PricingPlan, ENTITY, plan_id, revision, number, reason
    )
    restored = PricingPlan.model_validate({**point.doc.model_dump(), **point.snapshot})
    changes = {key: getattr(restored, key) for key in EDITABLE}
    return await _apply(ctx, point.doc, changes, point.reason)


async def delete_plan(ctx: ResolverCtx, plan_id: str, revision: int) -> PricingPlan:
    """A plan with active links stays (remove the links first); inactive links go with it."""
    plan = await version.load_at(ctx.scope, PricingPlan, plan_id, revision)
    if await _active_links(ctx, plan):
        raise Conflict("the plan has active segment links; remove or deactivate them first")
    await version.delete_at(ctx.scope, plan)
    await SegmentPlanLink.get_pymongo_collection().delete_many(
        ctx.scope.filter({"plan_id": plan.id})
    )
    ctx.audit.record(ENTITY, plan.id, before=plan)
    data = {"planId": str(plan.id), "productId": str(plan.product_id)}
    await ctx.publish(TOPIC, "planDeleted", data)
    await ctx.publish("canvas", "planDeleted", data)
    return plan


async def list_plans(
    ctx: ResolverCtx, product_id: str | None, active: bool | None, page: PageArgs
) -> Page[PricingPlan]:
    filters: dict[str, Any] = {} if active is None else {"active": active}
    if product_id is not None:
        filters["product_id"] = parse_id(product_id)
    return await find_page(ctx.scope, PricingPlan, filters, page)


async def get_plan(ctx: ResolverCtx, plan_id: str) -> PricingPlan | None:
    return await ctx.scope.get(PricingPlan, plan_id)
