"""Creating catalog objects through the API in tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from app.models import TenantScope
from app.models.identity import Tenant
from tests.support.graphql import GraphQLClient
from tests.support.tenants import SignedUp, sign_up

PRODUCT = """mutation($input: CreateProductInput!) { createProduct(input: $input) {
  __typename ... on Product { id revision } ... on Error { message } } }"""
PLAN = """mutation($input: CreatePlanInput!) { createPlan(input: $input) {
  __typename ... on PricingPlan { id revision unitPriceCents } ... on Error { message } } }"""
SEGMENT = """mutation($input: CreateSegmentInput!) { createSegment(input: $input) {
  __typename ... on CustomerSegment { id revision filter } ... on ValidationError { message
  fields { path message } } ... on Error { message } } }"""


async def product(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    name = fields.pop("name", f"Product {uuid.uuid4().hex[:8]}")
    result = (await client.data(PRODUCT, {"input": {"name": name, **fields}}))["createProduct"]
    assert result["__typename"] == "Product", result
    return result


async def plan(
    client: GraphQLClient, product_id: str, name: str, price: int, **fields: Any
) -> dict[str, Any]:
    variables = {"input": {"productId": product_id, "name": name, "unitPriceCents": price}}
    variables["input"].update(fields)
    result = (await client.data(PLAN, variables))["createPlan"]
    assert result["__typename"] == "PricingPlan", result
    return result


async def segment(
    client: GraphQLClient, product_id: str, name: str, **fields: Any
) -> dict[str, Any]:
    variables = {"input": {"productId": product_id, "name": name, **fields}}
    return (await client.data(SEGMENT, variables))["createSegment"]


async def own_tenant(api: str) -> SignedUp:
    """A tenant of a test module's own: catalog tests add many segments and products, which
    other modules' counts over the shared tenant must not see."""
    signed_up = await sign_up(api, f"Catalog {uuid.uuid4().hex[:6]}")
    await Tenant.find_one({"_id": signed_up.tenant_id}).update({"$set": {"tier": "enterprise"}})
    return signed_up


# Fixtures a catalog test module imports to run in a tenant of its own.
# Imported under these names, they replace the shared `client` and `tenant` fixtures.
@pytest_asyncio.fixture(scope="module", name="own")
async def own_fixture(api: str) -> AsyncIterator[SignedUp]:
    signed_up = await own_tenant(api)
    yield signed_up
    await signed_up.client.close()


@pytest.fixture(name="client")
def own_client(own: SignedUp) -> GraphQLClient:
    return own.client


@pytest.fixture(name="tenant")
def own_scope(own: SignedUp) -> TenantScope:
    return TenantScope(own.tenant_id)
