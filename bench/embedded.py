"""Benchmark the embedded MongoDB-compatible server end to end through PyMongo.

Starts `python -m app.embedded` in a subprocess, loads 100k small documents, and times a
full scan, a $group aggregation and 1000 lookups each by _id, by an indexed field and by
an unindexed field. Ratios compare against a `ping` round trip measured in the same run.

    .venv/bin/python bench/embedded.py
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory leads sys.path, where a sibling module could shadow the
# standard library (one named http.py did); the repository root belongs there instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:1] = [str(ROOT)]

import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import pymongo  # noqa: E402

N_DOCS = 100_000
N_LOOKUPS = 1000
GROUP = [{"$group": {"_id": "$cat", "total": {"$sum": "$price"}, "n": {"$sum": 1}}}]


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best of `repeat` wall-clock runs, in seconds."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs)


def main() -> None:
    cmd = [sys.executable, "-m", "app.embedded", "--port", "0"]
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split()[-1]  # the banner ends with the URL
            with pymongo.MongoClient(url) as client:
                run(client)
        finally:
            server.terminate()
            server.wait(timeout=30)


def run(client: pymongo.MongoClient) -> None:
    coll = client.bench.items
    coll.drop()
    docs = [{"_id": i, "sku": f"sku-{i}", "tag": f"t{i}", "cat": i % 50, "price": i % 997 * 0.5}
            for i in range(N_DOCS)]  # fmt: skip
    load = timed(lambda: coll.insert_many(docs), repeat=1)
    coll.create_index("sku")

    ping_each = statistics.median(
        timed(lambda: client.admin.command("ping"), repeat=1) for _ in range(200)
    )
    keys = range(0, N_DOCS, N_DOCS // N_LOOKUPS)

    def lookups(field: str, value: Callable[[int], object]) -> float:
        return timed(lambda: [coll.find_one({field: value(i)}) for i in keys], repeat=1)

    # (operation, seconds, items): items are documents for bulk rows, lookups otherwise.
    rows = [
        (f"insert_many {N_DOCS:,} docs", load, N_DOCS),
        (f"full scan find() of {N_DOCS:,} docs", timed(lambda: list(coll.find())), N_DOCS),
        ("aggregate $group/$sum over all docs", timed(lambda: list(coll.aggregate(GROUP))), N_DOCS),
        (f"{N_LOOKUPS} find_one by _id", lookups("_id", lambda i: i), N_LOOKUPS),
        (f"{N_LOOKUPS} find_one by indexed sku", lookups("sku", lambda i: f"sku-{i}"), N_LOOKUPS),
        (f"{N_LOOKUPS} find_one by unindexed tag", lookups("tag", lambda i: f"t{i}"), N_LOOKUPS),
    ]
    print(f"ping round trip (baseline): {ping_each * 1e6:.0f} µs\n")
    print("| operation | total | per doc / lookup | ratio to ping |")
    print("|---|---:|---:|---:|")
    for name, seconds, items in rows:
        each = seconds / items
        print(f"| {name} | {seconds:.3f} s | {each * 1e6:,.1f} µs | {each / ping_each:,.2f}x |")
    coll.drop()


if __name__ == "__main__":
    main()
