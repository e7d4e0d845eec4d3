"""Projects: the seed's fields (data sources, AI instructions, environment settings), the
products they cover, revision-checked updates and what is refused."""

from __future__ import annotations

import uuid

from beanie import PydanticObjectId

from app.models import TenantScope
from app.models.identity import Project
from tests.support import catalog
from tests.support.graphql import GraphQLClient

FIELDS = """id name description active revision aiInstructions environmentConfig
  dataSources { productData customerData revenueData } products { role product { name } }"""
CREATE = f"""mutation($input: CreateProjectInput!) {{ createProject(input: $input) {{
  __typename ... on Project {{ {FIELDS} }} ... on ValidationError {{ fields {{ path message }} }}
  ... on Error {{ message }} }} }}"""
UPDATE = f"""mutation($input: UpdateProjectInput!) {{ updateProject(input: $input) {{
  __typename ... on Project {{ {FIELDS} }} ... on ValidationError {{ fields {{ path message }} }}
  ... on Error {{ message }} }} }}"""
SET_PRODUCT = f"""mutation($id: ID!, $p: ID!, $role: ProjectProductRole) {{
  setProjectProduct(projectId: $id, productId: $p, role: $role) {{ __typename
  ... on Project {{ {FIELDS} }} ... on Error {{ message }} }} }}"""


def name() -> str:
    return f"Pricing 2027 {uuid.uuid4().hex[:6]}"


async def create(client: GraphQLClient, **fields: object) -> dict:
    return (await client.data(CREATE, {"input": {"name": name(), **fields}}))["createProject"]


async def test_a_project_keeps_its_data_sources_instructions_and_settings(
    client: GraphQLClient, tenant: TenantScope
):
    project = await create(
        client,
        dataSources={"customerData": "warehouse.customers", "revenueData": "stripe export"},
        aiInstructions="Prefer conservative price changes in the EU.",
        environmentConfig={"currency": "EUR", "fiscalYearStartMonth": 4, "beta": True},
    )
    assert project["__typename"] == "Project", project
    assert project["dataSources"] == {
        "productData": "",
        "customerData": "warehouse.customers",
        "revenueData": "stripe export",
    }
    assert project["environmentConfig"] == {
        "currency": "EUR",
        "fiscalYearStartMonth": 4,
        "beta": True,
    }
    stored = await tenant.require(Project, project["id"])
    assert stored.ai_instructions == "Prefer conservative price changes in the EU."
    assert stored.active is True

    changed = (
        await client.data(
            UPDATE,
            {"input": {"id": project["id"], "revision": 0, "active": False, "description": "Q1"}},
        )
    )["updateProject"]
    assert (changed["active"], changed["description"], changed["revision"]) == (False, "Q1", 1)
    assert changed["dataSources"]["customerData"] == "warehouse.customers"  # untouched

    stale = (
        await client.data(UPDATE, {"input": {"id": project["id"], "revision": 0, "name": "x"}})
    )["updateProject"]
    assert stale["__typename"] == "ConflictError"


async def test_credentials_and_bad_settings_are_refused_and_nothing_changes(
    client: GraphQLClient, tenant: TenantScope
):
    project = await create(client)
    refused = (
        await client.data(
            UPDATE,
            {
                "input": {
                    "id": project["id"],
                    "revision": 0,
                    "name": " ",
                    "environmentConfig": {"STRIPE_API_KEY": "sk_live_x", "limits": {"a": 1}},
                }
            },
        )
    )["updateProject"]
    assert refused["__typename"] == "ValidationError"
    assert refused["fields"] == [
        {"path": ["input", "name"], "message": "1 to 200 characters"},
        {
            "path": ["input", "environmentConfig", "STRIPE_API_KEY"],
            "message": "credentials go in setSecret, not here",
        },
        {
            "path": ["input", "environmentConfig", "limits"],
            "message": "must be a string, number or boolean",
        },
    ]
    not_object = await create(client, environmentConfig=[1, 2])
    assert not_object["fields"] == [
        {"path": ["input", "environmentConfig"], "message": "must be an object"}
    ]
    stored = await tenant.require(Project, project["id"])
    assert (stored.revision, stored.environment_config) == (0, {})


async def test_a_name_is_taken_once_per_tenant(client: GraphQLClient):
    first = await create(client)
    again = (await client.data(CREATE, {"input": {"name": first["name"]}}))["createProject"]
    assert again["__typename"] == "ConflictError"
    other = await create(client)
    renamed = (
        await client.data(
            UPDATE, {"input": {"id": other["id"], "revision": 0, "name": first["name"]}}
        )
    )["updateProject"]
    assert renamed["__typename"] == "ConflictError"


async def test_products_join_a_project_in_a_role_and_leave_it(
    client: GraphQLClient, tenant: TenantScope
):
    project = await create(client)
    main = await catalog.product(client, name="Main product")
    sibling = await catalog.product(client, name="Sibling product")
    for product, role in ((main, "PRIMARY"), (sibling, "COMPARISON"), (sibling, "ARCHIVED")):
        result = await client.data(
            SET_PRODUCT, {"id": project["id"], "p": product["id"], "role": role}
        )
    products = result["setProjectProduct"]["products"]
    assert products == [
        {"role": "PRIMARY", "product": {"name": "Main product"}},
        {"role": "ARCHIVED", "product": {"name": "Sibling product"}},
    ]
    left = await client.data(SET_PRODUCT, {"id": project["id"], "p": main["id"], "role": None})
    assert [p["role"] for p in left["setProjectProduct"]["products"]] == ["ARCHIVED"]
    missing = await client.data(
        SET_PRODUCT, {"id": project["id"], "p": str(PydanticObjectId()), "role": "PRIMARY"}
    )
    assert missing["setProjectProduct"]["__typename"] == "NotFoundError"
    stored = await tenant.require(Project, project["id"])
    assert [p.product_id for p in stored.products] == [PydanticObjectId(sibling["id"])]
