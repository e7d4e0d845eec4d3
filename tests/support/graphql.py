"""A small GraphQL client for tests: HTTP through httpx, subscriptions over graphql-transport-ws."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets

# Every client until it is closed: one a test drops would otherwise be garbage-collected
# with its connections open, in the middle of another test.
OPEN_CLIENTS: set[GraphQLClient] = set()


class GraphQLClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30)
        self.others: list[GraphQLClient] = []
        OPEN_CLIENTS.add(self)

    def as_(self, token: str | None) -> GraphQLClient:
        """Another client of the same server with other credentials, closed with this one."""
        other = GraphQLClient(self.base_url, token)
        self.others.append(other)
        return other

    async def post(self, query: str, variables: dict[str, Any] | None = None, **kw: Any):
        return await self.http.post("/graphql", json={"query": query, "variables": variables}, **kw)

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.execute(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    @asynccontextmanager
    async def subscribe(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        init: dict[str, Any] | None = None,
    ) -> AsyncIterator[Subscription]:
        url = self.base_url.replace("http", "ws", 1) + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
            if init is None:
                init = {"authorization": f"Bearer {self.token}"} if self.token else {}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = json.loads(await ws.recv())
            assert ack["type"] == "connection_ack", ack
            sub_id = uuid.uuid4().hex
            payload = {"query": query, "variables": variables or {}}
            await ws.send(json.dumps({"id": sub_id, "type": "subscribe", "payload": payload}))
            yield Subscription(ws, sub_id)

    async def close(self) -> None:
        for other in self.others:
            await other.close()
        await self.http.aclose()
        OPEN_CLIENTS.discard(self)


class Subscription:
    def __init__(self, ws: Any, sub_id: str) -> None:
        self.ws = ws
        self.id = sub_id

    async def next_message(self) -> dict[str, Any]:
        while True:
            message = json.loads(await self.ws.recv())
            if message["type"] in ("ping", "pong"):
                continue
            return message

    async def next(self) -> dict[str, Any]:
        """The next `next` payload's data; fails on an error or completion."""
        message = await self.next_message()
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]
        return message["payload"]["data"]

    async def until_complete(self) -> list[dict[str, Any]]:
        items = []
        while (message := await self.next_message())["type"] == "next":
            items.append(message["payload"]["data"])
        assert message["type"] == "complete", message
        return items
