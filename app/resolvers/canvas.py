"""The canvas of a product: segments and plans as nodes, links as edges, node positions,
and link suggestions.

Suggestion heuristic (documented in README): a plan fits a segment when what the segment's
active customers pay on average is close to what the plan charges one customer a month,
`fit = 1 / (1 + |ln(avg_revenue / monthly_price)|)` with `monthly_price = unit price x
max(min units, 1)`, spread over the billing period (a quarter is 3 months, a year or a
one-time price 12). A fit of 1 is an exact match; a factor of e (2.7x) either way gives 0.5.
Each segment gets its best-fitting active plan it is not yet linked to, if the fit is at
least MIN_FIT; it is proposed FINALIZED when the segment has no finalised plan, otherwise as
an EXPERIMENTAL link with a 10% share. Segments without computed metrics get none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.errors import ValidationFailed
from app.models import CanvasPosition, CustomerSegment, PricingPlan, Product, SegmentPlanLink
from app.models.base import parse_id, utcnow
from app.models.link import LinkType
from app.models.plan import BillingPeriod
from app.resolvers.ctx import ResolverCtx
from app.resolvers.link import TOPIC

MAX_NODES = 500
COORDINATE_MAX = 1e6
SEGMENT_X, PLAN_X, ROW = 0.0, 400.0, 120.0  # the default layout: two columns
MIN_FIT = 0.3
EXPERIMENT_SHARE = 10
MONTHS = {
    BillingPeriod.MONTH: 1,
    BillingPeriod.QUARTER: 3,
    BillingPeriod.YEAR: 12,
    BillingPeriod.ONE_TIME: 12,
}


@dataclass
class Canvas:
    product: Product
    segments: list[CustomerSegment]
    plans: list[PricingPlan]
    links: list[SegmentPlanLink]
    positions: dict[str, tuple[float, float]]  # node id -> (x, y), defaults filled in


async def canvas(ctx: ResolverCtx, product_id: str) -> Canvas:
    product = await ctx.scope.require(Product, product_id)
    query = {"product_id": product.id}
    segments = await ctx.scope.find(CustomerSegment, query).sort("_id").limit(MAX_NODES).to_list()
    plans = await ctx.scope.find(PricingPlan, query).sort("_id").limit(MAX_NODES).to_list()
    links = await ctx.scope.find(SegmentPlanLink, {**query, "active": True}).to_list()
    stored = await ctx.scope.find(CanvasPosition, query).to_list()
    positions = {str(s.id): (SEGMENT_X, i * ROW) for i, s in enumerate(segments)}
    positions |= {str(p.id): (PLAN_X, i * ROW) for i, p in enumerate(plans)}
    positions |= {str(p.node_id): (p.x, p.y) for p in stored if str(p.node_id) in positions}
    return Canvas(product, segments, plans, links, positions)


async def move_node(
    ctx: ResolverCtx, product_id: str, node_id: str, x: float, y: float
) -> CanvasPosition:
    if not all(math.isfinite(v) and abs(v) <= COORDINATE_MAX for v in (x, y)):
        raise ValidationFailed.single("position", f"coordinates within ±{COORDINATE_MAX:g}")
    product = await ctx.scope.require(Product, product_id)
    oid = parse_id(node_id)
    node = None
    if oid is not None:
        node = await ctx.scope.get(CustomerSegment, oid) or await ctx.scope.get(PricingPlan, oid)
    if node is None or node.product_id != product.id:
        raise ValidationFailed.single("nodeId", "not a segment or plan of this product")
    existing = await ctx.scope.find(CanvasPosition, {"node_id": oid}).first_or_none()
    if existing is None:
        position = await ctx.scope.insert(
            CanvasPosition(tenant_id=ctx.tenant_id, product_id=product.id, node_id=oid, x=x, y=y)
        )
    else:  # last writer wins: a position is not worth a conflict
        await CanvasPosition.get_pymongo_collection().update_one(
            ctx.scope.filter({"_id": existing.id}),
            {"$set": {"x": x, "y": y, "updated_at": utcnow()}, "$inc": {"revision": 1}},
        )
        position = existing.model_copy(update={"x": x, "y": y})
    ctx.audit.record("CanvasPosition", position.id, after=position)
    data = {"productId": str(product.id), "nodeId": node_id, "x": x, "y": y}
    await ctx.publish(TOPIC, "nodeMoved", data)
    return position


@dataclass(frozen=True)
class Suggestion:
    segment: CustomerSegment
    plan: PricingPlan
    link_type: LinkType
    percentage: int | None
    fit: float
    reason: str


def monthly_price_cents(plan: PricingPlan) -> float:
    return plan.unit_price_cents * max(plan.min_units, 1) / MONTHS[plan.billing_period]


def fit(avg_revenue_cents: float, plan: PricingPlan) -> float:
    price = monthly_price_cents(plan)
    if avg_revenue_cents <= 0 or price <= 0:
        return 0.0
    return 1 / (1 + abs(math.log(avg_revenue_cents / price)))


def suggest(
    segments: list[CustomerSegment], plans: list[PricingPlan], links: list[SegmentPlanLink]
) -> list[Suggestion]:
    active_plans = [p for p in plans if p.active]
    out = []
    for segment in segments:
        if not segment.metrics.computed_at or not segment.metrics.active_users:
            continue
        own = [link for link in links if link.segment_id == segment.id and link.active]
        linked = {link.plan_id for link in own}
        candidates = [p for p in active_plans if p.id not in linked]
        if not candidates:
            continue
        avg = segment.metrics.avg_revenue_cents
        best = max(candidates, key=lambda p: fit(avg, p))
        score = fit(avg, best)
        if score < MIN_FIT:
            continue
        has_final = any(link.link_type == LinkType.FINALIZED for link in own)
        out.append(
            Suggestion(
                segment=segment,
                plan=best,
                link_type=LinkType.EXPERIMENTAL if has_final else LinkType.FINALIZED,
                percentage=EXPERIMENT_SHARE if has_final else None,
                fit=round(score, 4),
                reason=(
                    f"average revenue {avg} cents a month vs {monthly_price_cents(best):.0f} "
                    f"cents a month on {best.name}"
                ),
            )
        )
    return sorted(out, key=lambda s: -s.fit)


async def suggestions(ctx: ResolverCtx, product_id: str) -> list[Suggestion]:
    view = await canvas(ctx, product_id)
    return suggest(view.segments, view.plans, view.links)
