"""Customer segments and their metrics in the API."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app import models
from app.schema.context import Info
from app.schema.fields import query
from app.schema.pagination import Connection, paginate


@strawberry.type
class SegmentMetrics:
    total_users: int
    active_users: int
    avg_revenue_cents: int
    churn_rate: float
    computed_at: datetime | None


@strawberry.type
class CustomerSegment:
    id: strawberry.ID
    product_id: strawberry.ID
    name: str
    description: str
    metrics: SegmentMetrics

    @classmethod
    def from_model(cls, doc: models.CustomerSegment) -> CustomerSegment:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            name=doc.name,
            description=doc.description,
            metrics=SegmentMetrics(**doc.metrics.model_dump()),
        )


@strawberry.type
class SegmentQuery:
    @query()
    async def segments(
        self,
        info: Info,
        product_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[CustomerSegment]:
        query = {}
        if product_id is not None:
            query["product_id"] = models.base.parse_id(product_id)
        return await paginate(
            info.context.scope,
            models.CustomerSegment,
            query,
            (first, after),
            CustomerSegment.from_model,
        )
