"""Documents related to a page's nodes, loaded ahead so their fields resolve without awaiting.

graphql-core completes every awaited field on its own: on a page of 100 segments, each with
its product, links and plans, that machinery cost more than the database. A page resolver
therefore loads what its selection asks for with one batch per relation (through the
request's DataLoaders) and hands each node its documents; those fields then return plain
values. A node made anywhere else has no `Related` and its fields load through the
DataLoaders as before.

Field resolvers here return either the value or an awaitable of it (graphql-core accepts
both from a plain resolver), hence their `Any`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bson import ObjectId
from strawberry.types.nodes import SelectedField, Selection

from app import models
from app.schema.context import Info

D = TypeVar("D")
N = TypeVar("N")


@dataclass
class Related:
    """One node's related documents, as far as the page's selection asked for them."""

    product: models.Product | None = None
    links: list[models.SegmentPlanLink] | None = None
    plans: dict[ObjectId, models.PricingPlan] = field(default_factory=dict)
    has_product: bool = False
    has_plans: bool = False


def requested(info: Info) -> set[str]:
    """Every field name anywhere below the current field, through fragments: a superset of
    what a relation needs, which at worst loads a batch nobody reads."""
    names: set[str] = set()
    pending: list[Selection] = list(info.selected_fields)
    while pending:
        selection = pending.pop()
        if isinstance(selection, SelectedField):
            names.add(selection.name)
        pending.extend(selection.selections)
    return names


async def _convert(pending: Awaitable[D | None], to_node: Callable[[D], N]) -> N | None:
    doc = await pending
    return to_node(doc) if doc is not None else None


def one(
    prefetched: bool,
    doc: D | None,
    load: Callable[[], Awaitable[D | None]],
    to_node: Callable[[D], N],
) -> Any:
    """A to-one relation: the prefetched document, or one loaded now."""
    if prefetched:
        return to_node(doc) if doc is not None else None
    return _convert(load(), to_node)


async def _convert_all(pending: Awaitable[list[D]], to_node: Callable[[D], N]) -> list[N]:
    return [to_node(doc) for doc in await pending]


def many(
    docs: list[D] | None, load: Callable[[], Awaitable[list[D]]], to_node: Callable[[D], N]
) -> Any:
    """A to-many relation: the prefetched documents, or those loaded now."""
    if docs is not None:
        return [to_node(doc) for doc in docs]
    return _convert_all(load(), to_node)


async def prefetch_segments(info: Info, segments: Iterable[Any]) -> None:
    """Give each segment node its product, links and the links' plans, if asked for."""
    nodes = list(segments)
    wanted = requested(info)
    loaders = info.context.loaders
    related = [Related() for _ in nodes]
    if "product" in wanted:
        products = await loaders.product.load_many([ObjectId(n.product_id) for n in nodes])
        for item, product in zip(related, products, strict=True):
            item.product, item.has_product = product, True
    if wanted & {"links", "plans"}:
        links = await loaders.links_of_segment.load_many([ObjectId(n.id) for n in nodes])
        plan_ids = list({link.plan_id for group in links for link in group})
        has_plans = bool(wanted & {"plan", "plans"})
        plans = await loaders.plan.load_many(plan_ids) if has_plans else []
        by_id = {ObjectId(plan.id): plan for plan in plans if plan is not None}
        for item, group in zip(related, links, strict=True):
            item.links, item.plans, item.has_plans = group, by_id, has_plans
    for node, item in zip(nodes, related, strict=True):
        node.related = item


def product_of(info: Info, product_id: str, related: Related | None) -> Any:
    from app.schema.product import Product

    return one(
        related is not None and related.has_product,
        related.product if related else None,
        lambda: info.context.loaders.product.load(ObjectId(product_id)),
        Product.from_model,
    )


def plan_of(info: Info, plan_id: str, related: Related | None) -> Any:
    from app.schema.plan import PricingPlan

    return one(
        related is not None and related.has_plans,
        related.plans.get(ObjectId(plan_id)) if related else None,
        lambda: info.context.loaders.plan.load(ObjectId(plan_id)),
        PricingPlan.from_model,
    )
