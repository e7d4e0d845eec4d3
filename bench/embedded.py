"""Benchmark the embedded MongoDB-compatible server end to end through PyMongo.

Starts `python -m app.embedded` in a subprocess, loads 100k small documents, and times a
full scan, a $group aggregation and 1000 lookups each by _id, by an indexed field and by
an unindexed field. Ratios compare against a `ping` round trip measured in the same run.
Then: point reads by _id while an aggregation of about a second runs on another collection
and on the same one, against idle; and the journal's cost, a server on a data file against
one in memory.

    .venv/bin/python bench/embedded.py [--only lookups|concurrency|journal]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory leads sys.path, where a sibling module could shadow the
# standard library (one named http.py did); the repository root belongs there instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:1] = [str(ROOT)]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import pymongo  # noqa: E402
from pymongo.collection import Collection  # noqa: E402
from pymongo.database import Database  # noqa: E402
from pymongo.write_concern import WriteConcern  # noqa: E402

N_DOCS = 100_000
N_LOOKUPS = 1000
GROUP = [{"$group": {"_id": "$cat", "total": {"$sum": "$price"}, "n": {"$sum": 1}}}]
N_SINGLE = 10_000
# About a second over 100k documents on this machine: a sort on two keys, then a group.
SLOW = [{"$sort": {"price": -1, "tag": 1}}, {"$group": {"_id": "$cat", "n": {"$sum": 1}}}]


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best of `repeat` wall-clock runs, in seconds."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["lookups", "concurrency", "journal"])
    only = parser.parse_args().only
    if only in (None, "lookups", "concurrency"):
        with server() as client:
            if only != "concurrency":
                run(client)
            if only != "lookups":
                concurrency(client)
    if only in (None, "journal"):
        journal()


@contextlib.contextmanager
def server(data_file: str | None = None) -> Iterator[pymongo.MongoClient]:
    cmd = [sys.executable, "-m", "app.embedded", "--port", "0"]
    cmd += ["--data-file", data_file] if data_file else []
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split()[-1]  # the banner ends with the URL
            with pymongo.MongoClient(url) as client:
                yield client
        finally:
            process.terminate()
            process.wait(timeout=120)


def documents() -> list[dict[str, object]]:
    return [{"_id": i, "sku": f"sku-{i}", "tag": f"t{i}", "cat": i % 50, "price": i % 997 * 0.5}
            for i in range(N_DOCS)]  # fmt: skip


def run(client: pymongo.MongoClient) -> None:
    coll = client.bench.items
    coll.drop()
    docs = documents()
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


def concurrency(client: pymongo.MongoClient) -> None:
    """find_one by _id on collection A, idle and while SLOW aggregates B or A itself."""
    reads, scanned = client.bench.reads, client.bench.scanned
    for coll in (reads, scanned):
        coll.drop()
        coll.insert_many(documents())
    seconds = timed(lambda: list(scanned.aggregate(SLOW)), repeat=1)
    print(f"\nthe aggregation alone: {seconds:.2f} s\n")
    print("| find_one by _id on collection A | lookups | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for label, target in (
        ("idle", None),
        ("during the aggregation on collection B", scanned),
        ("during the aggregation on collection A", reads),
    ):
        latencies = sorted(point_reads(reads, target))
        p50, p99 = (latencies[int(q * len(latencies))] for q in (0.50, 0.99))
        row = f"| {label} | {len(latencies)} | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} |"
        print(f"{row} {latencies[-1] * 1e3:.2f} |")
    reads.drop()
    scanned.drop()


def point_reads(coll: Collection, scanning: Collection | None) -> list[float]:
    """Latencies of find_one by _id for 3 s, while SLOW runs over and over on `scanning`."""
    done = threading.Event()
    threading.Timer(3.0, done.set).start()

    def scan() -> None:
        while scanning is not None and not done.is_set():
            list(scanning.aggregate(SLOW))

    scanner = threading.Thread(target=scan)
    scanner.start()
    latencies = []
    i = 0
    while not done.is_set():
        start = time.perf_counter()
        coll.find_one({"_id": i % N_DOCS})
        latencies.append(time.perf_counter() - start)
        i += 7919
    scanner.join()
    return latencies


def journal() -> None:
    """The same writes against a server in memory and one journaling to a data file."""
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for data_file in (None, f"{tmp}/store.bson"):
            with server(data_file) as client:
                for name, seconds in writes(client.bench):
                    results.setdefault(name, []).append(seconds)
    print("\n| writes | in memory | data file + journal | ratio |")
    print("|---|---:|---:|---:|")
    for name, (memory, journaled) in results.items():
        print(f"| {name} | {memory:.3f} s | {journaled:.3f} s | {journaled / memory:.2f}x |")


def writes(db: Database) -> Iterator[tuple[str, float]]:
    docs = documents()
    yield f"insert_many {N_DOCS:,} docs", timed(lambda: db.bulk.insert_many(docs), repeat=1)
    for label, concern in (
        ("default write concern", WriteConcern()),
        ("j: true", WriteConcern(j=True)),
    ):
        coll = db.get_collection(label.replace(" ", "_"), write_concern=concern)

        def inserts(coll: Collection = coll) -> None:
            for i in range(N_SINGLE):
                coll.insert_one({"_id": i, "v": i})

        yield f"{N_SINGLE:,} insert_one, {label}", timed(inserts, repeat=1)


if __name__ == "__main__":
    main()
