"""Drive a running API with concurrent clients; report throughput and latency percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.servers import ApiProcess


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return statistics.quantiles(self.latencies, n=100)[int(q) - 1] * 1000


async def drive(
    url: str,
    key: str,
    name: str,
    body: dict[str, Any] | Callable[[], dict[str, Any]],
    clients: int,
    seconds: float,
) -> Result:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients)
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30, headers=headers) as http:

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                # A callable body gives every request its own payload (unique event ids).
                request = body() if callable(body) else body
                response = await http.post("/graphql", json=request)
                latencies.append(time.perf_counter() - started)
                payload = response.json()
                if response.status_code != 200 or payload.get("errors"):
                    raise RuntimeError(f"{name}: {response.status_code} {payload}")

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
    return Result(name, len(latencies), time.perf_counter() - started, latencies)


async def drive_all(
    url: str, key: str, operations: dict[str, Any], clients: int, seconds: float
) -> list[Result]:
    """Each operation in turn, after a one-second warm-up; the first is the baseline."""
    results = []
    for name, body in operations.items():
        await drive(url, key, name, body, clients, 1.0)
        results.append(await drive(url, key, name, body, clients, seconds))
    return results


def table(results: list[Result]) -> str:
    baseline = results[0]
    rows = [
        "| operation | req/s | p50 ms | p95 ms | p99 ms | req/s vs baseline | p50 vs baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rows.append(
            f"| {r.name} | {r.rps:.0f} | {r.percentile(50):.1f} | {r.percentile(95):.1f} | "
            f"{r.percentile(99):.1f} | {r.rps / baseline.rps:.2f} | "
            f"{r.percentile(50) / baseline.percentile(50):.2f} |"
        )
    return "\n".join(rows)


@contextlib.contextmanager
def server(**env: str) -> Iterator[tuple[str, str]]:
    """`python -m app serve --seed` in its own process: its URL and the demo API key."""
    with demo_api(**env) as (api, key):
        yield api.url, key


@contextlib.contextmanager
def demo_api(**env: str) -> Iterator[tuple[ApiProcess, str]]:
    """`python -m app serve --seed` in its own process, ready, and the demo API key."""
    api = ApiProcess.start("--seed", **env)
    try:
        deadline = time.monotonic() + 120
        while httpx.get(f"{api.url}/readyz").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not become ready")
            time.sleep(0.2)
        key = re.search(r"Bearer (pk_\S+)", api.output())
        if key is None:
            raise RuntimeError("the demo API key was not printed")
        yield api, key.group(1)
    finally:
        api.stop()
