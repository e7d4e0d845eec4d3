"""HTTP throughput and latency of typical operations against the `{ __typename }` baseline.

Usage: python bench/api.py [--clients 32] [--seconds 5]
Starts `python -m app serve --seed` (embedded store, demo data, Redis from REDIS_URL or
127.0.0.1:6379) and prints a markdown table of ratios measured in the same run. Every
request is authenticated with the demo API key and passes the rate limiter; the quota
window is shrunk so that the benchmark measures the server rather than the plan's quota.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import drive_all, server, table

OPERATIONS = {
    "baseline `{ __typename }`": {"query": "{ __typename }"},
    "products(first: 20)": {"query": "{ products(first: 20) { edges { node { id name } } } }"},
    "segments(first: 100) with metrics": {
        "query": "{ segments(first: 100) { totalCount nodes { id name metrics { totalUsers "
        "avgRevenueCents churnRate } } } }"
    },
}


async def main(clients: int, seconds: float) -> None:
    env = {
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "REDIS_PREFIX": f"bench-{os.getpid()}",
        "REQUEST_WINDOW_SECONDS": "0.001",
    }
    with server(**env) as (url, key):
        results = await drive_all(url, key, OPERATIONS, clients, seconds)
    print(f"clients={clients} seconds={seconds}")
    print(table(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.seconds))
