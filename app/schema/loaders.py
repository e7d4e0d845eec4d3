"""DataLoaders: every field that resolves another document batches through these, so a page
of N items costs one query per related collection, not N.

Created per request (per WebSocket connection for subscriptions) by the context. They batch
but do not cache: a subscription's connection lives long and must not serve stale documents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from strawberry.dataloader import DataLoader

from app.models import CustomerSegment, PricingPlan, Product, SegmentPlanLink, TenantScope
from app.models.base import D


def _by_id(scope: Callable[[], TenantScope], model: type[D]) -> DataLoader[ObjectId, D | None]:
    async def load(ids: list[ObjectId]) -> list[D | None]:
        found = await scope().get_many(model, list(set(ids)))
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load, cache=False)


def _links_by(
    scope: Callable[[], TenantScope], key: str
) -> DataLoader[ObjectId, list[SegmentPlanLink]]:
    async def load(ids: list[ObjectId]) -> list[list[SegmentPlanLink]]:
        query = {key: {"$in": list(set(ids))}}
        grouped: dict[Any, list[SegmentPlanLink]] = defaultdict(list)
        for link in await scope().find(SegmentPlanLink, query).sort("_id").to_list():
            grouped[getattr(link, key)].append(link)
        return [grouped.get(i, []) for i in ids]

    return DataLoader(load_fn=load, cache=False)


class Loaders:
    def __init__(self, scope: Callable[[], TenantScope]) -> None:
        self.product = _by_id(scope, Product)
        self.plan = _by_id(scope, PricingPlan)
        self.segment = _by_id(scope, CustomerSegment)
        self.links_of_segment = _links_by(scope, "segment_id")
        self.links_of_plan = _links_by(scope, "plan_id")
