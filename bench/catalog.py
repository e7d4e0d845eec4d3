"""A page of 100 segments with their product, links, plans and metrics (DataLoaders) against
the `{ __typename }` baseline, measured in the same run.

Usage: python bench/catalog.py [--clients 16] [--seconds 5]
Starts `python -m app serve --seed` (embedded store, demo data, Redis from REDIS_URL or
127.0.0.1:6379), adds segments through the API until the demo's first product has 100,
links each to one of its plans, and prints a markdown table of ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import drive_all, server, table

PAGE = (
    "query($p: ID!) { segments(productId: $p, first: 100) { totalCount nodes { id name "
    "metrics { totalUsers avgRevenueCents churnRate } product { name } "
    "links { linkType percentage plan { name } } plans { name unitPriceCents } } } }"
)


async def prepare(url: str, key: str) -> str:
    """The demo's first product, with 100 segments each linked to a plan."""
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:

        async def gql(query: str, **variables: object) -> dict:
            body = (
                await http.post("/graphql", json={"query": query, "variables": variables})
            ).json()
            assert "errors" not in body, body
            return body["data"]

        found = await gql("{ products(first: 1) { nodes { id } } }")
        product = found["products"]["nodes"][0]["id"]
        plans = await gql("query($p: ID!) { plans(productId: $p) { nodes { id } } }", p=product)
        plan_ids = [p["id"] for p in plans["plans"]["nodes"]]
        count = await gql("query($p: ID!) { segments(productId: $p) { totalCount } }", p=product)
        for i in range(count["segments"]["totalCount"], 100):
            made = await gql(
                "mutation($p: ID!, $n: String!, $w: String!) { createSegment(input: "
                "{productId: $p, name: $n, sqlWhere: $w}) { ... on CustomerSegment { id } } }",
                p=product,
                n=f"Bench segment {i}",
                w=f"usage > {i % 10}",
            )
            await gql(
                "mutation($s: ID!, $p: ID!) { createLink(input: {segmentId: $s, planId: $p}) "
                "{ __typename } }",
                s=made["createSegment"]["id"],
                p=plan_ids[i % len(plan_ids)],
            )
    return product


async def main(clients: int, seconds: float) -> None:
    env = {
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "REDIS_PREFIX": f"bench-{os.getpid()}",
        "REQUEST_WINDOW_SECONDS": "0.001",
        "EXPENSIVE_WINDOW_SECONDS": "0.001",  # each new segment queues a metrics run
    }
    with server(**env) as (url, key):
        product = await prepare(url, key)
        operations = {
            "baseline `{ __typename }`": {"query": "{ __typename }"},
            "segments(first: 100) + product, links, plans, metrics": {
                "query": PAGE,
                "variables": {"p": product},
            },
        }
        results = await drive_all(url, key, operations, clients, seconds)
    print(f"clients={clients} seconds={seconds}")
    print(table(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.seconds))
