"""Event latency from publish to subscriber, and fan-out to many concurrent subscribers.

Usage: python bench/events.py [--subscribers 500] [--events 20]
Starts `python -m app serve` (embedded store, Redis from REDIS_URL or 127.0.0.1:6379),
signs up a tenant, opens N graphql-transport-ws subscriptions to `productEvents`, then
creates products one at a time and times, for every subscriber, the span from sending the
mutation to receiving its event. The baseline is the same measurement with 1 subscriber;
deliveries/s is the events received over the time from each mutation to its last delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets

from tests.support.graphql import GraphQLClient
from tests.support.servers import ApiProcess
from tests.support.tenants import sign_up

SUBSCRIPTION = "subscription { productEvents { productId } }"
CREATE = "mutation($n: String!) { createProduct(input: {name: $n}) { __typename } }"


async def subscriber(url: str, token: str, ready: asyncio.Event, arrivals: list[float], count: int):
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_queue=None) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        await ws.recv()
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        ready.set()
        for _ in range(count):
            while json.loads(await ws.recv())["type"] != "next":
                pass
            arrivals.append(time.perf_counter())


async def measure(api_url: str, client: GraphQLClient, subscribers: int, events: int) -> dict:
    ws_url = api_url.replace("http", "ws", 1) + "/graphql"
    latencies: list[float] = []
    fan_out: list[float] = []
    arrivals: list[list[float]] = [[] for _ in range(subscribers)]
    readies = [asyncio.Event() for _ in range(subscribers)]
    tasks = [
        asyncio.create_task(subscriber(ws_url, client.token or "", readies[i], arrivals[i], events))
        for i in range(subscribers)
    ]
    await asyncio.gather(*(ready.wait() for ready in readies))
    await asyncio.sleep(1.0)  # let every subscription register on the server
    for n in range(events):
        sent = time.perf_counter()
        await client.data(CREATE, {"n": f"bench {subscribers}-{n}-{os.getpid()}"})
        while any(len(a) <= n for a in arrivals):  # noqa: ASYNC110 - polling is the clock
            await asyncio.sleep(0.001)
        times = [a[n] - sent for a in arrivals]
        latencies += times
        fan_out.append(max(times))
    await asyncio.gather(*tasks)
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "p50": quantiles[49] * 1000,
        "p99": quantiles[98] * 1000,
        "fan_out": statistics.median(fan_out) * 1000,
        # Events are sent one at a time: deliveries over the time spent delivering them.
        "deliveries": subscribers * events / sum(fan_out),
    }


async def main(subscribers: int, events: int) -> None:
    env = {
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "REDIS_PREFIX": f"bench-events-{os.getpid()}",
        "REQUEST_WINDOW_SECONDS": "0.001",
    }
    api = ApiProcess.start(**env)
    try:
        signed_up = await sign_up(api.url, "Bench")
        baseline = await measure(api.url, signed_up.client, 1, events)
        many = await measure(api.url, signed_up.client, subscribers, events)
        await signed_up.client.close()
    finally:
        api.stop()
    print(f"subscribers={subscribers} events={events}")
    print(
        "| subscribers | p50 ms | p99 ms | all delivered (median) ms | deliveries/s "
        "| p50 vs baseline |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for count, result in ((1, baseline), (subscribers, many)):
        print(
            f"| {count} | {result['p50']:.1f} | {result['p99']:.1f} | {result['fan_out']:.1f} | "
            f"{result['deliveries']:,.0f} | {result['p50'] / baseline['p50']:.1f} |"
        )
    print(f"\ntarget at {subscribers} subscribers: >= 15,000 deliveries/s and p99 < 100 ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.subscribers, args.events))
