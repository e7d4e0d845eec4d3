"""Hostile or careless input gets a typed client error and stores nothing, never INTERNAL."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from bson import ObjectId

from app.models import CustomerSegment, PricingPlan, Product, TenantScope
from tests.support.catalog import (  # noqa: F401
    PLAN,
    SEGMENT,
    own_client,
    own_fixture,
    own_scope,
    plan,
    product,
    segment,
)
from tests.support.graphql import GraphQLClient

CREATE_PRODUCT = "mutation($n: String!) { createProduct(input: {name: $n}) { __typename } }"


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


async def post_raw(client: GraphQLClient, body: str) -> Any:
    """`body` as sent: some of these inputs cannot even be written by a JSON encoder."""
    return await client.http.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )


def bad_request(response: Any, message: str) -> None:
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert message in error["message"]


async def test_variables_nested_50000_deep_are_a_400(client: GraphQLClient, tenant: TenantScope):
    parent = await product(client)
    name = unique("Deep")
    filter_text = '{"$and": [' * 25_000 + '{"region": "eu"}' + "]}" * 25_000
    variables = json.dumps({"input": {"productId": parent["id"], "name": name, "filter": 0}})
    body = json.dumps({"query": SEGMENT, "variables": "VARIABLES"})
    body = body.replace('"VARIABLES"', variables.replace('"filter": 0', f'"filter": {filter_text}'))
    bad_request(await post_raw(client, body), "JSON nested more than 64 levels")
    assert await tenant.find(CustomerSegment, {"name": name}).count() == 0


async def test_nesting_within_the_limit_reaches_the_filter_rules(client: GraphQLClient):
    parent = await product(client)
    deep: dict[str, Any] = {"region": "eu"}
    for _ in range(10):
        deep = {"$and": [deep]}
    result = await segment(client, parent["id"], unique("Nested"), filter=deep)
    assert result["__typename"] == "ValidationError"
    assert "nested more than 6 levels" in result["message"]


@pytest.mark.parametrize("part", ["operations", "map"])
async def test_multipart_operations_or_map_sent_as_a_file_is_a_400(
    client: GraphQLClient, tenant: TenantScope, part: str
):
    name = unique("Multipart")
    fields = {
        "operations": json.dumps({"query": CREATE_PRODUCT, "variables": {"n": name}}),
        "map": "{}",
    }
    as_file = {part: ("part.json", fields.pop(part), "application/json")}
    response = await client.http.post("/graphql", data=fields, files=as_file)
    bad_request(response, f"the multipart part '{part}' must be a field, not a file")
    assert await tenant.find(Product, {"name": name}).count() == 0


async def test_not_repeated_990_times_is_a_validation_error(
    client: GraphQLClient, tenant: TenantScope
):
    parent = await product(client)
    name = unique("Negations")
    result = await segment(client, parent["id"], name, sqlWhere="NOT " * 990 + "region = 'eu'")
    assert result["__typename"] == "ValidationError"
    assert result["message"] == "input.sqlWhere: nested more than 6 levels"
    assert await tenant.find(CustomerSegment, {"name": name}).count() == 0


async def test_a_few_nots_still_translate(client: GraphQLClient):
    parent = await product(client)
    result = await segment(client, parent["id"], unique("Not"), sqlWhere="NOT NOT region = 'eu'")
    assert result["filter"] == {"$nor": [{"$nor": [{"region": {"$eq": "eu"}}]}]}


@pytest.mark.parametrize(
    "body",
    [
        # in a variable, and inside the query text itself (JSON escapes, not GraphQL ones)
        json.dumps({"query": CREATE_PRODUCT, "variables": {"n": "NAME"}}).replace(
            '"NAME"', '"NAME\\ud800"'
        ),
        '{"query": "mutation { createProduct(input: {name: \\"NAME\\ud800\\"}) { __typename } }"}',
    ],
    ids=["variable", "query text"],
)
async def test_a_lone_surrogate_is_a_400(client: GraphQLClient, tenant: TenantScope, body: str):
    name = unique("Surrogate")
    response = await post_raw(client, body.replace("NAME", name))
    bad_request(response, "a string holds a lone UTF-16 surrogate")
    assert await tenant.find(Product, {"name": {"$regex": f"^{name}"}}).count() == 0


async def test_a_surrogate_pair_is_an_ordinary_character(client: GraphQLClient):
    body = json.dumps({"query": CREATE_PRODUCT, "variables": {"n": unique("Emoji")}})
    response = await post_raw(client, body.replace('"}}', ' \\ud83d\\ude00"}}'))
    assert response.json() == {"data": {"createProduct": {"__typename": "Product"}}}


async def test_a_lone_surrogate_escape_in_a_graphql_string_is_a_syntax_error(
    client: GraphQLClient,
):
    body = await client.execute(
        'mutation { createProduct(input: {name: "x\\ud800"}) { __typename } }'
    )
    assert body["errors"][0]["message"].startswith("Syntax Error: Invalid Unicode escape")


@pytest.mark.parametrize("amount", ["1e300", str(2**53 + 1), "9" * 5000])
async def test_cents_out_of_range_are_refused_naming_the_range(
    client: GraphQLClient, tenant: TenantScope, amount: str
):
    parent = await product(client)
    name = unique("Huge")
    literal = PLAN.replace("($input: CreatePlanInput!)", "").replace(
        "input: $input",
        f'input: {{productId: "{parent["id"]}", name: "{name}", unitPriceCents: {amount}}}',
    )
    variables = {"input": {"productId": parent["id"], "name": name, "unitPriceCents": 0}}
    as_variable = json.dumps({"query": PLAN, "variables": variables}).replace(
        '"unitPriceCents": 0', f'"unitPriceCents": {amount}'
    )
    responses = [await client.post(literal), await post_raw(client, as_variable)]
    for response in responses:
        errors = response.json()["errors"]
        assert all("INTERNAL" not in json.dumps(e) for e in errors), errors
        if response.status_code == 200:
            assert "within ±9007199254740991 (2^53 - 1)" in errors[0]["message"]
        else:  # a 5000-digit number is no JSON the API reads
            bad_request(response, "a number of thousands of digits")
    assert await tenant.find(PricingPlan, {"name": name}).count() == 0


async def test_a_segment_on_plan_id_is_stored(client: GraphQLClient, tenant: TenantScope):
    parent = await product(client)
    pricing = await plan(client, parent["id"], unique("Plan"), 1000)
    by_filter = await segment(
        client, parent["id"], unique("By filter"), filter={"plan_id": pricing["id"]}
    )
    by_sql = await segment(
        client, parent["id"], unique("By SQL"), sqlWhere=f"plan_id = '{pricing['id']}'"
    )
    assert by_filter["filter"] == {"plan_id": pricing["id"]}
    assert by_sql["filter"] == {"plan_id": {"$eq": pricing["id"]}}
    stored = await tenant.get(CustomerSegment, by_filter["id"])
    assert stored is not None and stored.filter == {"plan_id": ObjectId(pricing["id"])}


async def test_a_filter_on_an_unknown_field_is_refused_before_storing(
    client: GraphQLClient, tenant: TenantScope
):
    parent = await product(client)
    name = unique("Unknown")
    result = await segment(client, parent["id"], name, filter={"plan": "pro"})
    assert result["__typename"] == "ValidationError"
    assert result["fields"] == [
        {"path": ["input", "filter", "plan"], "message": "unknown field 'plan'"}
    ]
    assert await tenant.find(CustomerSegment, {"name": name}).count() == 0


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_over_http_is_a_400_pointing_to_websocket(
    client: GraphQLClient, method: str
):
    query = "subscription { usageWarnings { limit } }"
    if method == "POST":
        response = await client.post(query)
    else:
        response = await client.http.get("/graphql", params={"query": query})
    bad_request(response, "subscriptions are served over WebSocket (graphql-transport-ws)")


async def test_unreadable_json_is_a_graphql_error(client: GraphQLClient):
    response = await post_raw(client, '{"query": "{ __typename }", "variables": {"x": NaN}}')
    bad_request(response, "NaN is not a JSON number")
    response = await post_raw(client, "{not json")
    bad_request(response, "Unable to parse the request's JSON")


async def test_an_int_literal_of_thousands_of_digits_is_a_validation_error(
    client: GraphQLClient,
):
    body = await client.execute("{ products(first: %s) { totalCount } }" % ("9" * 5000))
    assert "data" not in body or body["data"] is None
    (error,) = body["errors"]
    assert "Int" in error["message"]
    assert error.get("extensions", {}).get("code") != "INTERNAL"
