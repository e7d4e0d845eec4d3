"""Cursor connections: a use case's `Page` (resolvers/page.py) as `edges`, `pageInfo`,
`totalCount` and `nodes`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import strawberry
from bson import ObjectId

from app.models.base import D, TenantScope
from app.resolvers.page import Page, PageArgs, encode_cursor, find_page

N = TypeVar("N")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    node: N
    cursor: str


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Items matching the query across all pages.")
    async def total_count(self) -> int:
        return await self._count()

    @strawberry.field(description="The nodes of this page, without edges.")
    def nodes(self) -> list[N]:
        return [edge.node for edge in self.edges]


def connection(page: Page[D], to_node: Callable[[D], N]) -> Connection[N]:
    edges = [
        Edge(node=to_node(doc), cursor=encode_cursor(doc.id or ObjectId())) for doc in page.docs
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
        ),
        _count=page.count,
    )


async def paginate(
    scope: TenantScope,
    model: type[D],
    query: Mapping[str, Any],
    page: PageArgs,
    to_node: Callable[[D], N],
) -> Connection[N]:
    """A connection straight from storage: for the modules not yet on a list use case."""
    return connection(await find_page(scope, model, query, page), to_node)
