"""The authenticated `{ __typename }` against its floor, plain Strawberry with caches.

Usage: python bench/trivial.py [--rounds 3] [--seconds 5] [--connections 16]
Starts `python -m app serve --seed` (embedded store in its own process, Redis from
REDIS_URL or 127.0.0.1:6379) and `python -m bench.floor trivial`, then drives each in turn
with wrk, `--rounds` times alternately, after a warm-up of each. The API's requests carry
the demo API key and pass the rate limiter and the usage counter (the quota window is
shrunk so that the plan's quota never refuses them). Prints the runs and the median ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import demo_api
from bench.load import HEADER, Load, floor, rows, wrk

TRIVIAL = {"query": "{ __typename }"}


def main(rounds: int, seconds: float, connections: int) -> None:
    env = {
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "REDIS_PREFIX": f"bench-{os.getpid()}",
        "REQUEST_WINDOW_SECONDS": "0.001",
    }
    floors: list[Load] = []
    apis: list[Load] = []
    with demo_api(**env) as (api, key), floor("trivial") as plain:
        url, pid = api.url, api.process.pid
        auth = {"authorization": f"Bearer {key}"}
        wrk("warm-up", plain.url, plain.pid, TRIVIAL, {}, 1, connections)
        wrk("warm-up", url, pid, TRIVIAL, auth, 1, connections)
        for n in range(1, rounds + 1):
            floors.append(
                wrk(f"floor, round {n}", plain.url, plain.pid, TRIVIAL, {}, seconds, connections)
            )
            apis.append(wrk(f"API, round {n}", url, pid, TRIVIAL, auth, seconds, connections))
    print(f"rounds={rounds} seconds={seconds} connections={connections}")
    print("\n".join(HEADER))
    for plain_run, api_run in zip(floors, apis, strict=True):
        print("\n".join(rows([plain_run, api_run], plain_run)))
    ratio = statistics.median(a.rps / f.rps for a, f in zip(apis, floors, strict=True))
    cpu = statistics.median(a.cpu_us / f.cpu_us for a, f in zip(apis, floors, strict=True))
    p99 = max(a.p99_ms for a in apis)
    print(f"\nmedian req/s ratio to the floor: {ratio:.2f}x (target >= 0.9x)")
    print(f"median CPU per request ratio to the floor: {cpu:.2f}x")
    print(f"worst p99 of the API: {p99:.1f} ms (target < 30 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    main(args.rounds, args.seconds, args.connections)
