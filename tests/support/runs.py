"""Waiting on runs through the API, as a client polling `run(id)` does."""

from __future__ import annotations

from tests.support.graphql import GraphQLClient
from tests.support.polling import until

RUN = """query($id: ID!) { run(id: $id) { status error steps { name output } } }"""


async def finished(client: GraphQLClient, run_id: str, seconds: float = 600) -> dict:
    """The run once it has ended, whichever way."""
    return await status_in(client, run_id, ("COMPLETED", "FAILED", "CANCELLED"), seconds)


async def status_in(
    client: GraphQLClient,
    run_id: str,
    statuses: tuple[str, ...],
    seconds: float = 30.0,
    query: str = RUN,
) -> dict:
    """The run (the fields `query` selects) once its status is one of `statuses`."""

    async def read() -> dict:
        return (await client.data(query, {"id": run_id}))["run"]

    return await until(read, lambda run: run["status"] in statuses, seconds)


def outputs(run: dict) -> dict:
    """Each step's output by step name."""
    return {step["name"]: step["output"] for step in run["steps"]}
