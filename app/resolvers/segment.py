"""Customer segments: listing and metrics computed from the customer records."""

from __future__ import annotations

from typing import Any

from app.models import Customer, CustomerSegment, SegmentMetrics, TenantScope
from app.models.base import utcnow


def metrics_pipeline(scope: TenantScope, segment: CustomerSegment) -> list[dict[str, Any]]:
    is_active = {"$eq": [{"$ifNull": ["$churned_at", None]}, None]}
    return [
        {"$match": scope.filter({**segment.filter, "product_id": segment.product_id})},
        {
            "$group": {
                "_id": None,
                "total": {"$sum": 1},
                "active": {"$sum": {"$cond": [is_active, 1, 0]}},
                "active_revenue": {"$sum": {"$cond": [is_active, "$monthly_revenue_cents", 0]}},
            }
        },
    ]


async def compute_metrics(scope: TenantScope, segment: CustomerSegment) -> SegmentMetrics:
    collection = Customer.get_pymongo_collection()
    cursor = await collection.aggregate(metrics_pipeline(scope, segment))
    rows = await cursor.to_list()
    if not rows:
        return SegmentMetrics(computed_at=utcnow())
    row = rows[0]
    total, active = int(row["total"]), int(row["active"])
    return SegmentMetrics(
        total_users=total,
        active_users=active,
        avg_revenue_cents=round(row["active_revenue"] / active) if active else 0,
        churn_rate=(total - active) / total if total else 0.0,
        computed_at=utcnow(),
    )


async def refresh_metrics(scope: TenantScope, segment: CustomerSegment) -> CustomerSegment:
    metrics = await compute_metrics(scope, segment)
    return await scope.update(segment, {"metrics": metrics.model_dump()})
