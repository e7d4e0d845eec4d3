"""A page of 100 segments with their product, links, plans and metrics (DataLoaders), per
field, against its floor: plain Strawberry with caches completing the same fields over
in-memory objects, measured in the same run.

Usage: python bench/catalog.py [--rounds 3] [--seconds 5] [--connections 4]
Starts `python -m app serve --seed` (embedded store in its own process, demo data, Redis
from REDIS_URL or 127.0.0.1:6379), adds segments through the API until the demo's first
product has 100, links each to one of its plans, then serves the API's own answer for that
page from `python -m bench.floor page` and drives both in turn with wrk. Every figure is
per field of the answer (1,603 fields); the API's CPU includes its store's. That a page
costs a constant number of MongoDB commands is tests/test_loaders.py's to prove.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import demo_api
from bench.load import Load, check, floor, wrk

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


def fields(value: object) -> int:
    """The fields an answer completes: every key of every object in it."""
    if isinstance(value, dict):
        return len(value) + sum(fields(item) for item in value.values())
    if isinstance(value, list):
        return sum(fields(item) for item in value)
    return 0


def main(rounds: int, seconds: float, connections: int) -> None:
    env = {
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "REDIS_PREFIX": f"bench-{os.getpid()}",
        "REQUEST_WINDOW_SECONDS": "0.001",
        "EXPENSIVE_WINDOW_SECONDS": "0.001",  # each new segment queues a metrics run
    }
    floors: list[Load] = []
    apis: list[Load] = []
    with demo_api(**env) as (api, key), tempfile.TemporaryDirectory() as scratch:
        auth = {"authorization": f"Bearer {key}"}
        product = asyncio.run(prepare(api.url, key))
        body = {"query": PAGE, "variables": {"p": product}}
        answer = check(api.url, body, auth)
        page = Path(scratch) / "page.json"
        page.write_text(json.dumps(answer))
        with floor("page", "--page", str(page)) as plain:
            assert check(plain.url, body, {}) == answer, "the floor must answer the same page"
            wrk("warm-up", plain.url, plain.pid, body, {}, 1, connections)
            wrk("warm-up", api.url, api.process.pid, body, auth, 1, connections)
            for n in range(1, rounds + 1):
                name = f"floor, round {n}"
                floors.append(wrk(name, plain.url, plain.pid, body, {}, seconds, connections))
                name = f"API, round {n}"
                apis.append(wrk(name, api.url, api.process.pid, body, auth, seconds, connections))
    count = fields(answer["data"])
    print(f"rounds={rounds} seconds={seconds} connections={connections} fields={count}")
    print("| run | req/s | p50 ms | p99 ms | server CPU µs/field | µs/field vs floor |")
    print("|---|---:|---:|---:|---:|---:|")
    for plain_run, api_run in zip(floors, apis, strict=True):
        for run in (plain_run, api_run):
            print(
                f"| {run.name} | {run.rps:,.1f} | {run.p50_ms:.1f} | {run.p99_ms:.1f} | "
                f"{run.cpu_us / count:.2f} | {run.cpu_us / plain_run.cpu_us:.2f}x |"
            )
    ratio = statistics.median(a.cpu_us / f.cpu_us for a, f in zip(apis, floors, strict=True))
    print(f"\nmedian CPU per field, API to floor: {ratio:.2f}x (target <= 2x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    main(args.rounds, args.seconds, args.connections)
