"""Waiting on runs through the API, as a client polling `run(id)` does."""

from __future__ import annotations

import asyncio
import time

from tests.support.graphql import GraphQLClient

RUN = """query($id: ID!) { run(id: $id) { status steps { name output } } }"""


async def finished(client: GraphQLClient, run_id: str, seconds: float = 600) -> dict:
    """The run once it has ended, whichever way."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = (await client.data(RUN, {"id": run_id}))["run"]
        if run["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return run
        await asyncio.sleep(0.2)
    raise TimeoutError(run_id)


def outputs(run: dict) -> dict:
    """Each step's output by step name."""
    return {step["name"]: step["output"] for step in run["steps"]}
