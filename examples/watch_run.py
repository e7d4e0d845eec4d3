"""Start a run and follow it live over `graphql-transport-ws`, as a dashboard would.

    python examples/watch_run.py http://127.0.0.1:8000 pk_...

It starts a recomputation of every segment's metrics, then prints the run's log lines as
they are written and returns when the run ends. `since: "0"` replays what was logged before
the subscription started, so no line is missed however late the listener connects.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

START = """
mutation { recomputeSegmentMetrics { __typename ... on Run { id } ... on Error { message } } }
"""
LOG = """
subscription($id: ID!) { runLog(runId: $id, since: "0") { level message step cursor } }
"""
STATUS = """query($id: ID!) { run(id: $id) { status progress { completedSteps totalSteps } } }"""


async def start_run(base_url: str, token: str) -> str:
    transport = HTTPXAsyncTransport(
        url=f"{base_url}/graphql", headers={"Authorization": f"Bearer {token}"}
    )
    async with Client(transport=transport) as session:
        started = (await session.execute(GraphQLRequest(START)))["recomputeSegmentMetrics"]
        if started["__typename"] != "Run":
            raise RuntimeError(f"{started['__typename']}: {started.get('message')}")
        return str(started["id"])


async def follow(base_url: str, token: str, run_id: str) -> dict[str, Any]:
    """The run's log from its first line (the stream ends after a finished run's last line),
    and the run's final state."""
    transport = WebsocketsTransport(
        url=base_url.replace("http", "ws", 1) + "/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],  # graphql-transport-ws
        init_payload={"authorization": f"Bearer {token}"},
    )
    lines = []
    async with Client(transport=transport, execute_timeout=None) as session:
        async for line in session.subscribe(GraphQLRequest(LOG, variable_values={"id": run_id})):
            lines.append(line["runLog"])
            print(f"[{line['runLog']['level']}] {line['runLog']['message']}")
        status = await session.execute(GraphQLRequest(STATUS, variable_values={"id": run_id}))
    print("run", run_id, status["run"]["status"])
    return {"lines": lines, **status["run"]}


async def main(base_url: str, token: str) -> dict[str, Any]:
    return await follow(base_url, token, await start_run(base_url, token))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
