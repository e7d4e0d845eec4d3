"""The floors: plain Strawberry with ParserCache and ValidationCache, nothing else.

Usage: python -m bench.floor trivial --port P
       python -m bench.floor page --port P --page FILE

`trivial` answers `{ __typename }` as the API does, without authentication, limits or
middleware. `page` serves the catalog page's fields (segments with metrics, product, links,
plans) over in-memory objects built from FILE, a response of the API's own page, so the
floor completes exactly the fields the API does. Both run in one uvicorn worker with the
options `python -m app serve` uses.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import strawberry
import uvicorn
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

CACHES: list[Any] = [ParserCache, ValidationCache]


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> bool:
        return True


@strawberry.type
class Metrics:
    total_users: int | None
    avg_revenue_cents: int | None
    churn_rate: float | None


@strawberry.type
class Named:
    name: str


@strawberry.type
class Plan:
    name: str
    unit_price_cents: int | None


@strawberry.type
class Link:
    link_type: str
    percentage: float | None
    plan: Named | None


@strawberry.type
class Segment:
    id: strawberry.ID
    name: str
    metrics: Metrics | None
    product: Named | None
    links: list[Link]
    plans: list[Plan]


@strawberry.type
class SegmentPage:
    total_count: int
    nodes: list[Segment]


def named(node: dict[str, Any] | None) -> Named | None:
    return None if node is None else Named(name=node["name"])


def segment_of(node: dict[str, Any]) -> Segment:
    metrics = node["metrics"]
    return Segment(
        id=strawberry.ID(node["id"]),
        name=node["name"],
        metrics=None
        if metrics is None
        else Metrics(
            total_users=metrics["totalUsers"],
            avg_revenue_cents=metrics["avgRevenueCents"],
            churn_rate=metrics["churnRate"],
        ),
        product=named(node["product"]),
        links=[
            Link(
                link_type=link["linkType"], percentage=link["percentage"], plan=named(link["plan"])
            )
            for link in node["links"]
        ],
        plans=[
            Plan(name=plan["name"], unit_price_cents=plan["unitPriceCents"])
            for plan in node["plans"]
        ],
    )


def page_schema(response: dict[str, Any]) -> strawberry.Schema:
    """A schema whose `segments` returns the objects of `response` (the API's page)."""
    found = response["data"]["segments"]
    page = SegmentPage(
        total_count=found["totalCount"], nodes=[segment_of(node) for node in found["nodes"]]
    )

    @strawberry.type
    class PageQuery:
        @strawberry.field
        def segments(self, product_id: strawberry.ID, first: int = 20) -> SegmentPage:
            return SegmentPage(total_count=page.total_count, nodes=page.nodes[:first])

    return strawberry.Schema(query=PageQuery, extensions=CACHES)


@dataclass(frozen=True)
class Floor:
    name: str
    port: int
    page: Path | None = None

    def app(self) -> GraphQL[None, None]:
        if self.name == "trivial":
            schema = strawberry.Schema(query=Query, extensions=CACHES)
        else:
            assert self.page is not None, "the page floor needs --page"
            schema = page_schema(json.loads(self.page.read_text()))
        return GraphQL(schema, graphql_ide=None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name", choices=["trivial", "page"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--page", type=Path, default=None)
    args = parser.parse_args()
    floor = Floor(args.name, args.port, args.page)
    uvicorn.run(floor.app(), host="127.0.0.1", port=floor.port, log_level="warning")


if __name__ == "__main__":
    main()
