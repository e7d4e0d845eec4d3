"""Customer segments: their filter, metrics computed from the customer records, changes,
versions and restores."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from app.bus import Event
from app.errors import FieldIssue, RateLimited, ValidationFailed
from app.models import (
    CanvasPosition,
    Customer,
    CustomerSegment,
    Product,
    SegmentGrowth,
    SegmentMetrics,
    SegmentPlanLink,
    TenantScope,
)
from app.models.base import parse_id, utcnow
from app.models.run import WorkflowType
from app.resolvers import run as runs
from app.resolvers import version
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import Page, PageArgs, find_page
from app.resolvers.product import DESCRIPTION_MAX, NAME_MAX
from app.resolvers.segment_filter import parse_sql_where, validate_filter


def _active_at(moment: datetime) -> dict[str, Any]:
    """A customer counts as active from signup until churn."""
    return {
        "$and": [
            {"$lte": ["$signup_at", moment]},
            {
                "$or": [
                    {"$eq": [{"$ifNull": ["$churned_at", None]}, None]},
                    {"$gt": ["$churned_at", moment]},
                ]
            },
        ]
    }


# A customer with no churn date (missing or null) is active.
IS_ACTIVE = {"$eq": [{"$ifNull": ["$churned_at", None]}, None]}


def sum_if(condition: dict[str, Any], value: Any) -> dict[str, Any]:
    return {"$sum": {"$cond": [condition, value, 0]}}


def metrics_pipeline(
    scope: TenantScope, segment: CustomerSegment, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    group: dict[str, Any] = {
        "_id": None,
        "total": {"$sum": 1},
        "active": sum_if(IS_ACTIVE, 1),
        "active_revenue": sum_if(IS_ACTIVE, "$monthly_revenue_cents"),
        "active_usage": sum_if(IS_ACTIVE, "$usage"),
    }
    for label, moment in (("start", start), ("end", end)):
        group[f"users_{label}"] = sum_if(_active_at(moment), 1)
        group[f"revenue_{label}"] = sum_if(_active_at(moment), "$monthly_revenue_cents")
        group[f"usage_{label}"] = sum_if(_active_at(moment), "$usage")
    return [
        {"$match": scope.filter({**segment.filter, "product_id": segment.product_id})},
        {"$group": group},
    ]


async def aggregate_one(pipeline: list[dict[str, Any]]) -> dict[str, Any] | None:
    cursor = await Customer.get_pymongo_collection().aggregate(pipeline)
    rows = await cursor.to_list()
    return rows[0] if rows else None


async def _product_usage_per_active(scope: TenantScope, product_id: Any) -> float:
    row = await aggregate_one(
        [
            {"$match": scope.filter({"product_id": product_id, "churned_at": None})},
            {"$group": {"_id": None, "n": {"$sum": 1}, "usage": {"$sum": "$usage"}}},
        ]
    )
    return row["usage"] / row["n"] if row and row["n"] else 0.0


def _change(start: float, end: float) -> float | None:
    return (end - start) / start if start else None


def _growth(row: dict[str, Any], days: int, start: datetime, end: datetime) -> SegmentGrowth:
    """Customers carry today's revenue and usage, no history: growth counts who arrived and
    who left over the period, each at their current revenue and usage."""
    return SegmentGrowth(
        period_days=days,
        period_start=start,
        period_end=end,
        users_at_start=row["users_start"],
        users_at_end=row["users_end"],
        users=_change(row["users_start"], row["users_end"]),
        revenue=_change(row["revenue_start"], row["revenue_end"]),
        usage=_change(row["usage_start"], row["usage_end"]),
    )


async def compute_metrics(
    scope: TenantScope, segment: CustomerSegment, growth_days: int | None = None
) -> SegmentMetrics:
    days = growth_days or segment.metrics.growth.period_days
    end = utcnow()
    start = end - timedelta(days=days)
    row = await aggregate_one(metrics_pipeline(scope, segment, start, end))
    if row is None:
        return SegmentMetrics(growth=SegmentGrowth(period_days=days), computed_at=end)
    total, active = int(row["total"]), int(row["active"])
    avg_usage = row["active_usage"] / active if active else 0.0
    product_usage = await _product_usage_per_active(scope, segment.product_id)
    return SegmentMetrics(
        total_users=total,
        active_users=active,
        avg_revenue_cents=round(row["active_revenue"] / active) if active else 0,
        avg_usage=avg_usage,
        engagement_score=100 * avg_usage / product_usage if active and product_usage else None,
        churn_rate=(total - active) / total if total else 0.0,
        growth=_growth(row, days, start, end),
        computed_at=end,
    )


async def refresh_metrics(
    scope: TenantScope, segment: CustomerSegment, growth_days: int | None = None
) -> CustomerSegment:
    metrics = await compute_metrics(scope, segment, growth_days)
    return await scope.update(segment, {"metrics": metrics.model_dump()})


# --- create, change, delete and restore ----------------------------------------------------

TOPIC = "segments"
ENTITY = "CustomerSegment"
log = logging.getLogger(__name__)


def to_json(value: Any) -> Any:
    """A stored filter as JSON (ids and dates as strings); validate_filter reads it back."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def snapshot(segment: CustomerSegment) -> dict[str, Any]:
    return {
        "name": segment.name,
        "description": segment.description,
        "filter": to_json(segment.filter),
        "sql_where": segment.sql_where,
    }


def segment_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated fields; `sql_where` (when given) is translated into `filter`."""
    issues = []
    name = fields.get("name")
    if name is not None and not 0 < len(name.strip()) <= NAME_MAX:
        issues.append(FieldIssue(("input", "name"), f"1 to {NAME_MAX} characters"))
    if len(fields.get("description") or "") > DESCRIPTION_MAX:
        issues.append(FieldIssue(("input", "description"), "too long"))
    if issues:
        raise ValidationFailed(issues)
    out = {k: v for k, v in fields.items() if v is not None}
    if "name" in out:
        out["name"] = out["name"].strip()
    if out.get("sql_where"):
        if fields.get("filter") is not None:
            raise ValidationFailed.single("input.sqlWhere", "give either filter or sqlWhere")
        out["filter"] = parse_sql_where(out["sql_where"])
    elif "filter" in out:
        out["filter"] = validate_filter(out["filter"])
        out["sql_where"] = ""
    return out


MAX_THROTTLE = 60.0
MAX_GROWTH_DAYS = 3660


def validate_metrics_parameters(parameters: dict[str, Any]) -> None:
    ids = parameters.get("segmentIds", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and parse_id(i) for i in ids):
        raise ValidationFailed.single("input.parameters.segmentIds", "must be a list of ids")
    throttle = parameters.get("throttleSeconds", 0)
    if not isinstance(throttle, int | float) or not 0 <= throttle <= MAX_THROTTLE:
        raise ValidationFailed.single(
            "input.parameters.throttleSeconds", f"must be a number from 0 to {MAX_THROTTLE}"
        )
    days = parameters.get("growthPeriodDays")
    if days is not None and not (type(days) is int and 1 <= days <= MAX_GROWTH_DAYS):
        raise ValidationFailed.single(
            "input.parameters.growthPeriodDays",
            f"must be a whole number from 1 to {MAX_GROWTH_DAYS}",
        )


METRICS_RUN = runs.WorkflowSpec(
    "segment_metrics",
    WorkflowType.CUSTOMER_SEGMENTATION,
    "Recompute every segment's metrics from the customer records",
    validate_metrics_parameters,
)


async def _recompute(ctx: ResolverCtx, segment: CustomerSegment) -> None:
    """Metrics follow the filter through the segment_metrics run; if the tenant's quota is
    spent the segment stands and its metrics wait for the next recomputation."""
    try:
        await runs.start(
            ctx, METRICS_RUN, str(segment.product_id), {"segmentIds": [str(segment.id)]}
        )
    except RateLimited as error:
        log.warning("metrics of segment %s not recomputed: %s", segment.id, error.message)


async def _changed(
    ctx: ResolverCtx, before: CustomerSegment | None, after: CustomerSegment, reason: str
) -> None:
    await version.record(ctx, ENTITY, after.id, snapshot(after), reason)
    ctx.audit.record(ENTITY, after.id, before=before, after=after)
    data = {"segmentId": str(after.id), "productId": str(after.product_id)}
    await ctx.publish(TOPIC, "segmentChanged", data)
    await ctx.publish("canvas", "segmentChanged", data)
    if before is None or before.filter != after.filter:
        await _recompute(ctx, after)


async def create_segment(
    ctx: ResolverCtx, product_id: str, fields: dict[str, Any], reason: str = ""
) -> CustomerSegment:
    if not fields.get("name"):
        raise ValidationFailed.single("input.name", "must not be empty")
    values = segment_fields(fields)
    product = await ctx.scope.require(Product, product_id)
    segment = await ctx.scope.insert(
        CustomerSegment(tenant_id=ctx.tenant_id, product_id=product.id, **values)
    )
    await _changed(ctx, None, segment, reason or "created")
    return segment


async def _apply(
    ctx: ResolverCtx, segment: CustomerSegment, fields: dict[str, Any], reason: str
) -> CustomerSegment:
    updated = await ctx.scope.update(segment, segment_fields(fields))
    await _changed(ctx, segment, updated, reason)
    return updated


async def update_segment(
    ctx: ResolverCtx, segment_id: str, revision: int, fields: dict[str, Any], reason: str = ""
) -> CustomerSegment:
    segment = await version.load_at(ctx.scope, CustomerSegment, segment_id, revision)
    return await _apply(ctx, segment, fields, reason)


async def restore_segment_version(
    ctx: ResolverCtx, segment_id: str, revision: int, number: int, reason: str = ""
) -> CustomerSegment:
    point = await version.restore_point(
        ctx.scope, CustomerSegment, ENTITY, segment_id, revision, number, reason
    )
    fields = point.snapshot
    if fields.get("sql_where"):
        fields.pop("filter", None)  # the SQL text is the source; it translates the same
    return await _apply(ctx, point.doc, fields, point.reason)


async def delete_segment(ctx: ResolverCtx, segment_id: str, revision: int) -> CustomerSegment:
    """The segment with its links and canvas position; its versions stay for the record."""
    segment = await version.load_at(ctx.scope, CustomerSegment, segment_id, revision)
    await version.delete_at(ctx.scope, segment)
    for model, key in ((SegmentPlanLink, "segment_id"), (CanvasPosition, "node_id")):
        await model.get_pymongo_collection().delete_many(ctx.scope.filter({key: segment.id}))
    ctx.audit.record(ENTITY, segment.id, before=segment)
    data = {"segmentId": str(segment.id), "productId": str(segment.product_id)}
    await ctx.publish(TOPIC, "segmentDeleted", data)
    await ctx.publish("canvas", "segmentDeleted", data)
    return segment


def follow_metrics(
    ctx: ResolverCtx, product_id: str | None, since: str | None
) -> AsyncGenerator[Event, None]:
    """Recomputed metrics of the segments (of one product, if given)."""

    def wanted(event: Event) -> bool:
        return event.type == "segmentMetricsUpdated" and (
            product_id is None or event.data.get("productId") == product_id
        )

    return ctx.follow(TOPIC, since, wanted)


async def list_segments(
    ctx: ResolverCtx, product_id: str | None, page: PageArgs
) -> Page[CustomerSegment]:
    filters = {} if product_id is None else {"product_id": parse_id(product_id)}
    return await find_page(ctx.scope, CustomerSegment, filters, page)


async def get_segment(ctx: ResolverCtx, segment_id: str) -> CustomerSegment | None:
    return await ctx.scope.get(CustomerSegment, segment_id)
