"""Subscriptions over graphql-transport-ws, as a real client speaks it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import websockets

from tests.support.graphql import GraphQLClient, Subscription

CREATE = "mutation($n: String!) { createProduct(input: {name: $n}) { ... on Product { id } } }"
EVENTS = "subscription($since: String) { productEvents(since: $since) { type productId cursor } }"


async def event_of(subscription: Subscription, product_id: str) -> dict:
    """The product's event: a subscription from the start ("0") is live before it replays
    what came first, so the event arrives whether the change beat the subscribe or not."""
    while (event := (await asyncio.wait_for(subscription.next(), 5))["productEvents"])[
        "productId"
    ] != product_id:
        pass
    return event


async def test_product_created_event_arrives_on_a_live_subscription(client: GraphQLClient):
    async with client.subscribe(EVENTS, {"since": "0"}) as subscription:
        created = await client.data(CREATE, {"n": f"Live {uuid.uuid4().hex[:6]}"})
        event = await event_of(subscription, created["createProduct"]["id"])
    assert event["type"] == "productCreated"
    assert event["productId"] == created["createProduct"]["id"]


async def test_resuming_from_a_cursor_replays_exactly_what_was_missed(client: GraphQLClient):
    async with client.subscribe(EVENTS, {"since": "0"}) as subscription:
        created = await client.data(CREATE, {"n": f"Seen {uuid.uuid4().hex[:6]}"})
        seen = await event_of(subscription, created["createProduct"]["id"])
    missed = [
        (await client.data(CREATE, {"n": f"Missed {uuid.uuid4().hex[:6]}"}))["createProduct"]["id"]
        for _ in range(3)
    ]
    async with client.subscribe(EVENTS, {"since": seen["cursor"]}) as resumed:
        replayed = [(await asyncio.wait_for(resumed.next(), 5))["productEvents"] for _ in missed]
    assert [event["productId"] for event in replayed] == missed


async def test_syntax_error_closes_the_socket_with_4400_and_the_reason(client: GraphQLClient):
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with client.subscribe("subscription { productEvents( }") as subscription:
            await asyncio.wait_for(subscription.next_message(), 5)
    assert closed.value.rcvd.code == 4400
    assert "Syntax Error" in closed.value.rcvd.reason


async def test_invalid_field_in_a_subscription_is_an_error_message(client: GraphQLClient):
    async with client.subscribe("subscription { noSuchEvents { id } }") as subscription:
        message = await asyncio.wait_for(subscription.next_message(), 5)
    assert message["type"] == "error"
    assert "noSuchEvents" in message["payload"][0]["message"]


async def test_malformed_cursor_ends_the_subscription_with_a_validation_error(
    client: GraphQLClient,
):
    async with client.subscribe(EVENTS, {"since": "yesterday"}) as subscription:
        message = await asyncio.wait_for(subscription.next_message(), 5)
    assert message["type"] == "next"
    [error] = message["payload"]["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
