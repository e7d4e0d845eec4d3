"""Cursor connections over MongoDB: keyset paging on `_id`, with `first` capped."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import strawberry
from bson import ObjectId

from app.errors import ValidationFailed
from app.models.base import D, TenantScope, parse_id

MAX_PAGE = 100
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


def encode_cursor(doc_id: ObjectId) -> str:
    return base64.urlsafe_b64encode(doc_id.binary).decode()


def decode_cursor(cursor: str) -> ObjectId:
    try:
        oid = parse_id(base64.urlsafe_b64decode(cursor.encode()).hex())
    except (binascii.Error, ValueError):
        oid = None
    if oid is None:
        raise ValidationFailed.single("after", "not a cursor returned by this API")
    return oid


async def paginate(
    scope: TenantScope,
    model: type[D],
    query: Mapping[str, Any],
    page: tuple[int, str | None],
    to_node: Callable[[D], N],
) -> Connection[N]:
    """One page of `model` documents matching `query`, in creation (`_id`) order."""
    first, after = page
    if not 0 <= first <= MAX_PAGE:
        raise ValidationFailed.single("first", f"must be between 0 and {MAX_PAGE}")
    keyset = {"_id": {"$gt": decode_cursor(after)}} if after else {}
    docs = await scope.find(model, {**query, **keyset}).sort("_id").limit(first + 1).to_list()
    edges = [
        Edge(node=to_node(doc), cursor=encode_cursor(doc.id or ObjectId())) for doc in docs[:first]
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(docs) > first,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=scope.find(model, query).count,
    )
