"""Segment -> plan links and the invariants that keep a segment's traffic split sound.

Among the *active* links of one segment:
1. the explicit percentages add up to at most 100;
2. an EXPERIMENTAL link always carries its percentage (the share it takes);
3. at most one FINALIZED link, unless every active link of the segment carries an explicit
   percentage (then the finalised plans split the traffic as stated);
4. a link points at an active plan, and segment and plan belong to the same product.
A FINALIZED link without a percentage takes what the experimental links leave.

Concurrent changes to one segment's links are serialised by `CustomerSegment.link_version`:
a change is written, then the version is advanced from the value the check read; if
someone else advanced it first, the change is undone and reported as a Conflict.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from app.bus import Event
from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import CustomerSegment, PricingPlan, Product, SegmentPlanLink
from app.models.link import LinkType
from app.resolvers import version
from app.resolvers.ctx import ResolverCtx

TOPIC = "canvas"
MAX_LINKS_PER_SEGMENT = 20


def check_invariants(links: list[SegmentPlanLink]) -> None:
    """`links`: a segment's links as they would be after the change."""
    active = [link for link in links if link.active]
    issues = []
    if len(active) > MAX_LINKS_PER_SEGMENT:
        issues.append(f"a segment has at most {MAX_LINKS_PER_SEGMENT} active links")
    total = sum(link.percentage or 0 for link in active)
    if total > 100:
        issues.append(f"the segment's traffic shares would add up to {total}% (at most 100%)")
    if any(link.link_type == LinkType.EXPERIMENTAL and link.percentage is None for link in active):
        issues.append("an experimental link needs a traffic percentage")
    finalized = [link for link in active if link.link_type == LinkType.FINALIZED]
    if len(finalized) > 1 and any(link.percentage is None for link in active):
        issues.append(
            "a segment has one finalised plan unless every active link states its percentage"
        )
    if issues:
        raise ValidationFailed([FieldIssue(("input",), message) for message in issues], issues[0])


def validate_percentage(percentage: int | None) -> None:
    if percentage is not None and not 1 <= percentage <= 100:
        raise ValidationFailed.single("input.percentage", "must be 1 to 100")


async def _plan_for(ctx: ResolverCtx, segment: CustomerSegment, plan_id: Any) -> PricingPlan:
    plan = await ctx.scope.require(PricingPlan, plan_id)
    if plan.product_id != segment.product_id:
        raise ValidationFailed.single("input.planId", "the plan belongs to another product")
    if not plan.active:
        raise ValidationFailed.single("input.planId", "the plan is inactive")
    return plan


async def _commit(ctx: ResolverCtx, segment: CustomerSegment, undo: Any) -> None:
    advanced = await CustomerSegment.get_pymongo_collection().update_one(
        ctx.scope.filter({"_id": segment.id, "link_version": segment.link_version}),
        {"$inc": {"link_version": 1}},
    )
    if advanced.modified_count != 1:
        await undo()
        raise Conflict("the segment's links changed meanwhile; reload and retry")


async def _siblings(ctx: ResolverCtx, segment: CustomerSegment) -> list[SegmentPlanLink]:
    return await ctx.scope.find(SegmentPlanLink, {"segment_id": segment.id}).to_list()


async def _published(ctx: ResolverCtx, type_: str, link: SegmentPlanLink) -> None:
    data = {"linkId": str(link.id), "productId": str(link.product_id)}
    await ctx.publish(TOPIC, type_, data)


async def create_link(
    ctx: ResolverCtx,
    segment_id: str,
    plan_id: str,
    link_type: LinkType,
    percentage: int | None = None,
) -> SegmentPlanLink:
    validate_percentage(percentage)
    segment = await ctx.scope.require(CustomerSegment, segment_id)
    plan = await _plan_for(ctx, segment, plan_id)
    siblings = await _siblings(ctx, segment)
    if any(link.plan_id == plan.id for link in siblings):
        raise Conflict("the segment is already linked to this plan; change that link")
    link = SegmentPlanLink(
        tenant_id=ctx.tenant_id,
        product_id=segment.product_id,
        segment_id=segment.id,
        plan_id=plan.id,
        link_type=link_type,
        percentage=percentage,
    )
    check_invariants([*siblings, link])
    link = await ctx.scope.insert(link)
    await _commit(ctx, segment, lambda: ctx.scope.delete(SegmentPlanLink, link.id))  # type: ignore[arg-type]
    ctx.audit.record("SegmentPlanLink", link.id, after=link)
    await _published(ctx, "linkCreated", link)
    return link


async def update_link(
    ctx: ResolverCtx, link_id: str, revision: int, changes: dict[str, Any]
) -> SegmentPlanLink:
    """`changes`: link_type, percentage (None clears it), active."""
    link = await version.load_at(ctx.scope, SegmentPlanLink, link_id, revision)
    validate_percentage(changes.get("percentage"))
    segment = await ctx.scope.require(CustomerSegment, link.segment_id)
    if changes.get("active", link.active):
        await _plan_for(ctx, segment, link.plan_id)
    after = link.model_copy(update=changes)
    siblings = [s for s in await _siblings(ctx, segment) if s.id != link.id]
    check_invariants([*siblings, after])
    updated = await ctx.scope.update(link, changes)

    async def undo() -> None:
        await ctx.scope.update(updated, link.model_dump(include=set(changes)))

    await _commit(ctx, segment, undo)
    ctx.audit.record("SegmentPlanLink", link.id, before=link, after=updated)
    await _published(ctx, "linkUpdated", updated)
    return updated


async def delete_link(ctx: ResolverCtx, link_id: str) -> SegmentPlanLink:
    """Removing a link cannot break an invariant, so it needs no revision."""
    link = await ctx.scope.require(SegmentPlanLink, link_id)
    await ctx.scope.delete(SegmentPlanLink, link_id)
    ctx.audit.record("SegmentPlanLink", link.id, before=link)
    await _published(ctx, "linkDeleted", link)
    return link


async def follow(
    ctx: ResolverCtx, product_id: str, since: str | None
) -> AsyncGenerator[Event, None]:
    """Changes of one product's canvas: links, nodes, positions."""
    await ctx.scope.require(Product, product_id)
    return ctx.follow(TOPIC, since, lambda event: event.data.get("productId") == product_id)
