"""DataLoaders: every field that resolves another document batches through these, so a page
of N items costs one query per related collection, not N.

Created per request (per WebSocket connection for subscriptions) by the context. They batch
but do not cache: a subscription's connection lives long and must not serve stale documents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from bson import ObjectId
from strawberry.dataloader import DataLoader

from app.models import (
    CustomerSegment,
    Experiment,
    PricingPlan,
    Product,
    SegmentPlanLink,
    TenantScope,
)
from app.models.base import D


def _by_id(scope: Callable[[], TenantScope], model: type[D]) -> DataLoader[ObjectId, D | None]:
    async def load(ids: list[ObjectId]) -> list[D | None]:
        found = await scope().get_many(model, list(set(ids)))
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load, cache=False)


def _many_by(
    scope: Callable[[], TenantScope],
    model: type[D],
    field: str,
    keys_of: Callable[[D], Iterable[ObjectId]],
) -> DataLoader[ObjectId, list[D]]:
    """The documents whose `field` holds each id (`keys_of` reads those ids back from a
    document), in creation order: one query per batch."""

    async def load(ids: list[ObjectId]) -> list[list[D]]:
        query = {field: {"$in": list(set(ids))}}
        grouped: dict[ObjectId, list[D]] = defaultdict(list)
        for doc in await scope().find(model, query).sort("_id").to_list():
            for key in set(keys_of(doc)):
                grouped[key].append(doc)
        return [grouped.get(i, []) for i in ids]

    return DataLoader(load_fn=load, cache=False)


class Loaders:
    def __init__(self, scope: Callable[[], TenantScope]) -> None:
        self.product = _by_id(scope, Product)
        self.plan = _by_id(scope, PricingPlan)
        self.segment = _by_id(scope, CustomerSegment)
        self.links_of_segment = _many_by(
            scope, SegmentPlanLink, "segment_id", lambda link: [link.segment_id]
        )
        self.links_of_plan = _many_by(
            scope, SegmentPlanLink, "plan_id", lambda link: [link.plan_id]
        )
        self.experiments_of_segment = _many_by(
            scope, Experiment, "target_segment_ids", lambda doc: doc.target_segment_ids
        )
        self.experiments_of_plan = _many_by(
            scope, Experiment, "arms.plan_id", lambda doc: [arm.plan_id for arm in doc.arms]
        )
