"""The GraphQL endpoint over real HTTP: queries, mutations, typed errors, limits, media types."""

from __future__ import annotations

import uuid

from app.models import Product, TenantScope
from app.schema.schema import build_schema
from app.settings import Settings
from tests.support.graphql import GraphQLClient

CREATE = """
mutation Create($input: CreateProductInput!) {
  createProduct(input: $input) {
    __typename
    ... on Product { id name description revision }
    ... on Error { message code }
    ... on ValidationError { fields { path message } }
  }
}
"""
PAGE = """
query Page($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name } }
  }
}
"""


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


async def test_trivial_query_answers_over_post_and_get(client: GraphQLClient):
    assert await client.data("{ __typename }") == {"__typename": "Query"}
    response = await client.http.get("/graphql", params={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_mutation_over_get_is_refused_with_405(client: GraphQLClient):
    query = 'mutation { createProduct(input: {name: "x"}) { __typename } }'
    response = await client.http.get("/graphql", params={"query": query})
    assert response.status_code == 405


async def test_graphql_response_json_is_served_when_asked_for(client: GraphQLClient):
    accept = {"accept": "application/graphql-response+json, application/json;q=0.9"}
    response = await client.post("{ __typename }", headers=accept)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")


async def test_invalid_query_is_a_400_without_data_under_graphql_response_json(
    client: GraphQLClient,
):
    accept = {"accept": "application/graphql-response+json"}
    response = await client.post("{ noSuchField }", headers=accept)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert "noSuchField" in body["errors"][0]["message"]


async def test_unparseable_body_is_a_400(client: GraphQLClient):
    response = await client.http.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_created_product_is_stored_and_listed(client: GraphQLClient, tenant: TenantScope):
    name = unique("Analytics")
    result = (await client.data(CREATE, {"input": {"name": name, "description": "d"}}))[
        "createProduct"
    ]
    assert result["__typename"] == "Product"
    assert result["name"] == name and result["revision"] == 0
    stored = await tenant.get(Product, result["id"])
    assert stored is not None and stored.name == name and stored.tenant_id == tenant.tenant_id


async def test_products_page_through_cursors_without_gaps(client: GraphQLClient):
    names = {unique("Paged") for _ in range(5)}
    for name in names:
        await client.data(CREATE, {"input": {"name": name}})
    seen, after = [], None
    while True:
        page = (await client.data(PAGE, {"first": 2, "after": after}))["products"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names <= set(seen)
    assert len(seen) == len(set(seen)) == page["totalCount"]


async def test_empty_name_is_a_validation_error_and_stores_nothing(
    client: GraphQLClient, tenant: TenantScope
):
    before = await tenant.find(Product).count()
    result = (await client.data(CREATE, {"input": {"name": "  ", "description": "x" * 6000}}))[
        "createProduct"
    ]
    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION"
    assert {tuple(f["path"]) for f in result["fields"]} == {
        ("input", "name"),
        ("input", "description"),
    }
    assert await tenant.find(Product).count() == before


async def test_duplicate_product_name_is_a_conflict(client: GraphQLClient):
    name = unique("Twice")
    await client.data(CREATE, {"input": {"name": name}})
    result = (await client.data(CREATE, {"input": {"name": name}}))["createProduct"]
    assert result["__typename"] == "ConflictError"
    assert name in result["message"]


async def test_page_size_above_the_cap_is_refused(client: GraphQLClient):
    body = await client.execute(PAGE, {"first": 1000})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "first" in body["errors"][0]["message"]


async def test_forged_cursor_is_refused_cleanly(client: GraphQLClient):
    body = await client.execute(PAGE, {"first": 2, "after": "!!not-a-cursor"})
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_query_deeper_than_the_limit_is_refused(settings: Settings):
    schema = build_schema(settings.model_copy(update={"max_query_depth": 2}))
    result = await schema.execute("{ products { edges { node { id } } } }")
    assert result.errors and "exceeds maximum operation depth" in result.errors[0].message


async def test_too_many_aliases_are_refused(client: GraphQLClient):
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(50)) + " }"
    body = await client.execute(query)
    assert "aliases" in body["errors"][0]["message"]


async def test_unknown_product_id_reads_as_null(client: GraphQLClient):
    query = "query($id: ID!) { product(id: $id) { id } }"
    assert await client.data(query, {"id": "000000000000000000000000"}) == {"product": None}
    assert await client.data(query, {"id": "not-an-id"}) == {"product": None}


async def test_oversized_body_is_refused_with_413(client: GraphQLClient, settings: Settings):
    padding = "x" * (settings.max_request_bytes + 1)
    response = await client.post("{ __typename }", {"padding": padding})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
