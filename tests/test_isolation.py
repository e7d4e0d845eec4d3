"""Tenant isolation over every root field: tenant B can neither see nor change tenant A's data.

The operations are generated from the schema itself, so a field added later is covered
without editing this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import pytest
import pytest_asyncio
import websockets
from strawberry.utils.str_converters import to_camel_case

from app.models import ALL_MODELS, CustomerSegment, TenantScope
from app.models.audit import AuditEntry
from app.models.identity import Tenant
from app.models.outbox import PendingEvent
from app.schema.permissions import PUBLIC_FIELDS
from app.schema.schema import Mutation, Query, Subscription
from app.seed import seed
from tests.support.graphql import GraphQLClient
from tests.support.tenants import SignedUp, sign_up
from tests.support.walk import INTROSPECT, Walker

MARK = f"isolation-{uuid.uuid4().hex[:8]}"
RECOMPUTE = "mutation { recomputeSegmentMetrics { __typename ... on Run { id } } }"
LAST = ["logout"]  # B's own logout ends B's session, so it runs once, last


@pytest_asyncio.fixture(scope="module")
async def tenant_a(api: str, services, worker) -> dict[str, Any]:
    a = await sign_up(api, f"A {MARK}")
    await Tenant.find_one({"_id": a.tenant_id}).update({"$set": {"tier": "enterprise"}})
    await seed(TenantScope(a.tenant_id), customers_per_product=50)
    c = a.client
    product = await c.data(
        "mutation($n: String!) { createProduct(input: {name: $n}) { ... on Product { id } } }",
        {"n": f"Product {MARK}"},
    )
    project = await c.data(
        "mutation($n: String!) { createProject(input: {name: $n}) { ... on Project { id } } }",
        {"n": f"Project {MARK}"},
    )
    key = await c.data(
        "mutation($n: String!) { createApiKey(input: {name: $n}) "
        "{ ... on CreatedApiKey { apiKey { id } } } }",
        {"n": f"Key {MARK}"},
    )
    await c.data(
        'mutation($v: String!) { setSecret(input: {name: "openai", value: $v}) { __typename } }',
        {"v": f"sk-{MARK}-value"},
    )
    await c.data(
        "mutation($e: String!) { inviteUser(input: {email: $e}) { __typename } }",
        {"e": f"{MARK}@example.com"},
    )
    job = await c.data(RECOMPUTE)
    segments = await TenantScope(a.tenant_id).find(CustomerSegment).to_list()
    ids = [
        a.user_id,
        product["createProduct"]["id"],
        project["createProject"]["id"],
        key["createApiKey"]["apiKey"]["id"],
        job["recomputeSegmentMetrics"]["id"],
        *(str(s.id) for s in segments[:2]),
    ]
    yield {"signed_up": a, "ids": ids, "segment_names": {s.name for s in segments}}
    await a.client.close()


@pytest_asyncio.fixture(scope="module")
async def tenant_b(api: str) -> SignedUp:
    b = await sign_up(api, "B")
    await Tenant.find_one({"_id": b.tenant_id}).update({"$set": {"tier": "enterprise"}})
    yield b
    await b.client.close()


async def walker(client: GraphQLClient, ids: list[str]) -> Walker:
    return Walker.from_introspection(await client.data(INTROSPECT), ids)


def leaked_ids(value: Any, ids: set[str]) -> list[str]:
    """A's ids on objects B received (typed errors may quote the id B sent)."""
    if isinstance(value, list):
        return [found for item in value for found in leaked_ids(item, ids)]
    if not isinstance(value, dict):
        return []
    own = []
    if not str(value.get("__typename", "")).endswith("Error"):
        own = [v for k, v in value.items() if k.endswith("id") or k.endswith("Id") if v in ids]
    return own + [found for item in value.values() for found in leaked_ids(item, ids)]


async def received_within(subscription, seconds: float) -> list[dict]:
    messages = []
    with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
        async with asyncio.timeout(seconds):
            while True:
                messages.append(await subscription.next_message())
    return messages


def test_every_root_field_names_a_role_or_is_public():
    unguarded = [
        f"{root.__name__}.{field.name}"
        for root in (Query, Mutation, Subscription)
        for field in root.__strawberry_definition__.fields
        if not field.permission_classes and to_camel_case(field.name) not in PUBLIC_FIELDS
    ]
    assert unguarded == []


async def test_tenant_b_reads_nothing_of_tenant_a(tenant_a, tenant_b: SignedUp):
    walk = await walker(tenant_b.client, tenant_a["ids"])
    secrets = [MARK, *tenant_a["segment_names"]]
    checked = 0
    for field, document, variables in walk.operations("Query", "query"):
        body = await tenant_b.client.execute(document, variables)
        text = json.dumps(body)
        assert not [s for s in secrets if s in text], (field, variables, body)
        assert leaked_ids(body.get("data"), set(tenant_a["ids"])) == [], (field, body)
        checked += 1
    assert checked >= 10


async def snapshot(tenant_id: str) -> dict[str, list[dict]]:
    state = {}
    for model in ALL_MODELS:
        if model in (AuditEntry, PendingEvent):
            continue
        query = {"_id": tenant_id} if model is Tenant else {"tenant_id": tenant_id}
        cursor = model.get_pymongo_collection().find(query).sort("_id")
        state[model.__name__] = await cursor.to_list()
    return state


async def test_tenant_b_changes_nothing_of_tenant_a(tenant_a, api: str):
    a: SignedUp = tenant_a["signed_up"]
    tenant_b = await sign_up(api, "B, who will log out")
    await Tenant.find_one({"_id": tenant_b.tenant_id}).update({"$set": {"tier": "enterprise"}})
    await asyncio.sleep(0.5)  # let A's metrics job settle before the snapshot
    before = await snapshot(a.tenant_id)
    walk = await walker(tenant_b.client, tenant_a["ids"])
    operations = list(walk.operations("Mutation", "mutation"))
    first_and_last = [op for op in operations if op[0] not in LAST]
    first_and_last += [next(op for op in operations if op[0] == name) for name in LAST]
    for field, document, variables in first_and_last:
        body = await tenant_b.client.execute(document, variables)
        assert MARK not in json.dumps(body), (field, body)
    assert await snapshot(a.tenant_id) == before
    assert "errors" not in await a.client.execute("{ me { role } }")
    await tenant_b.client.close()


@pytest.mark.parametrize(
    "field", [to_camel_case(f.name) for f in Subscription.__strawberry_definition__.fields]
)
async def test_tenant_b_hears_nothing_of_tenant_a(tenant_a, tenant_b: SignedUp, field: str):
    walk = await walker(tenant_b.client, tenant_a["ids"])
    a: SignedUp = tenant_a["signed_up"]
    tried = set()
    for name, document, variables in walk.operations("Subscription", "subscription"):
        if "since" in variables:
            variables["since"] = "0"  # ask for the whole history too
        key = json.dumps(variables, sort_keys=True)
        if name != field or key in tried:
            continue
        tried.add(key)
        async with tenant_b.client.subscribe(document, variables) as subscription:
            await a.client.data(
                "mutation($n: String!) { createProduct(input: {name: $n}) { __typename } }",
                {"n": f"Later {uuid.uuid4().hex[:6]} {MARK}"},
            )
            await a.client.data(RECOMPUTE)
            for message in await received_within(subscription, 1.0):
                # Refusals ("not found") are fine; data of A's, or A's names, are leaks.
                payload = message.get("payload") or {}
                leaked = isinstance(payload, dict) and payload.get("data") is not None
                assert not leaked and MARK not in json.dumps(message), (name, message)
