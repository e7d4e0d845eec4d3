"""Experiment ingestion and assignment throughput against the `{ __typename }` baseline.

Usage: python bench/experiments.py [--clients 16] [--seconds 5] [--batch 500]
Starts `python -m app serve --seed` like bench/api.py and drives, in the same run: the
baseline, `recordExperimentEvents` with `--batch` fresh events per request (unique ids, so
every event is counted, none is a duplicate) into a seeded running experiment, and
`assignUnits` with `--batch` unit ids per request. Prints the request table and the
events/s and assignments/s, each also as a ratio to the baseline request rate.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import drive_all, server, table

BASELINE = {"query": "{ __typename }"}
RECORD = (
    "mutation($events: [ExperimentEventInput!]!) { recordExperimentEvents(events: $events) "
    "{ ... on EventIngestion { accepted duplicates } } }"
)
ASSIGN = (
    "mutation($id: ID!, $units: [String!]!) { assignUnits(experimentId: $id, unitIds: $units) "
    "{ ... on AssignmentBatch { assignments { arm } } } }"
)
KINDS = ("EXPOSURE", "EXPOSURE", "CONVERSION")


def running_experiment(url: str, key: str) -> str:
    query = "{ experiments(first: 1, status: RUNNING) { nodes { id } } }"
    body = httpx.post(
        f"{url}/graphql", json={"query": query}, headers={"authorization": f"Bearer {key}"}
    ).json()
    return str(body["data"]["experiments"]["nodes"][0]["id"])


def event_batches(experiment_id: str, size: int) -> Any:
    counter = itertools.count()

    def next_body() -> dict[str, Any]:
        events = []
        for _ in range(size):
            i = next(counter)
            kind = KINDS[i % 3]
            events.append(
                {
                    "eventId": f"bench-{os.getpid()}-{i}",
                    "experimentId": experiment_id,
                    "unitId": f"unit-{i // 3}",
                    "kind": kind,
                    "amountCents": 9900 if kind == "CONVERSION" else 0,
                }
            )
        return {"query": RECORD, "variables": {"events": events}}

    return next_body


async def main(clients: int, seconds: float, batch: int) -> None:
    env = {
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "REDIS_PREFIX": f"bench-{os.getpid()}",
        "REQUEST_WINDOW_SECONDS": "0.001",
    }
    with server(**env) as (url, key):
        experiment_id = running_experiment(url, key)
        units = [f"visitor-{i}" for i in range(batch)]
        operations: dict[str, Any] = {
            "baseline `{ __typename }`": BASELINE,
            f"recordExperimentEvents ({batch} events)": event_batches(experiment_id, batch),
            f"assignUnits ({batch} units)": {
                "query": ASSIGN,
                "variables": {"id": experiment_id, "units": units},
            },
        }
        results = await drive_all(url, key, operations, clients, seconds)
    baseline = results[0].rps
    print(f"clients={clients} seconds={seconds} batch={batch}")
    print(table(results))
    print()
    print("| throughput | per second | vs baseline requests/s |")
    print("|---|---:|---:|")
    for label, result in (("events ingested", results[1]), ("units assigned", results[2])):
        print(f"| {label} | {result.rps * batch:.0f} | {result.rps * batch / baseline:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.seconds, args.batch))
