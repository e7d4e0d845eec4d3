"""Search across the catalog in the API."""

from __future__ import annotations

import strawberry

from app.resolvers import search as use_case
from app.resolvers.search import HitKind
from app.schema.context import Info
from app.schema.fields import query


@strawberry.type
class SearchHighlight:
    field: str
    snippet: str = strawberry.field(description="HTML-escaped, matches in <mark>…</mark>.")


@strawberry.type
class SearchHit:
    kind: HitKind
    id: strawberry.ID = strawberry.field(description="The document; a competitor's product.")
    product_id: strawberry.ID
    title: str
    score: float
    highlights: list[SearchHighlight]


@strawberry.type
class SearchQuery:
    @query(description="Products, competitors, plans and segments, best match first.")
    async def search(self, info: Info, query: str, first: int = 20) -> list[SearchHit]:
        hits = await use_case.search(info.context.ctx, query, first)
        return [
            SearchHit(
                kind=h.kind,
                id=strawberry.ID(h.id),
                product_id=strawberry.ID(h.product_id),
                title=h.title,
                score=h.score,
                highlights=[
                    SearchHighlight(field=x.field, snippet=x.snippet) for x in h.highlights
                ],
            )
            for h in hits
        ]
