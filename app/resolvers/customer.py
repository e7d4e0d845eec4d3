"""Customer records as a segment selects them: the query behind a segment preview."""

from __future__ import annotations

from typing import Any

from app.errors import ValidationFailed
from app.models import Customer, CustomerSegment, Product
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import Page, PageArgs, find_page
from app.resolvers.segment_filter import parse_sql_where, validate_filter


async def list_customers(
    ctx: ResolverCtx,
    product_id: str | None,
    segment_id: str | None,
    filter: Any | None,
    sql_where: str | None,
    page: PageArgs,
) -> Page[Customer]:
    """The customers of a product (or of the tenant), of a segment, and matching a filter
    in the segment filter language (JSON or SQL WHERE), all at once: a segment's filter
    refined by the one given, validated exactly as a segment's is; in import order."""
    scope = ctx.scope
    if filter is not None and sql_where:
        raise ValidationFailed.single("sqlWhere", "give either filter or sqlWhere")
    conditions: list[dict[str, Any]] = []
    if product_id is not None:
        product = await scope.require(Product, product_id)
        conditions.append({"product_id": product.id})
    if segment_id is not None:
        segment = await scope.require(CustomerSegment, segment_id)
        if product_id is not None and segment.product_id != conditions[0]["product_id"]:
            raise ValidationFailed.single("segmentId", "not a segment of the product")
        conditions += [{"product_id": segment.product_id}, segment.filter]
    if filter is not None:
        conditions.append(validate_filter(filter, ("filter",)))
    elif sql_where:
        conditions.append(parse_sql_where(sql_where, ("sqlWhere",)))
    conditions = [c for c in conditions if c]
    query = {"$and": conditions} if len(conditions) > 1 else (conditions[0] if conditions else {})
    return await find_page(scope, Customer, query, page)
