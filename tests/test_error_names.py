"""Error messages name the API's types, never the storage classes behind them."""

from __future__ import annotations

from bson import ObjectId

from tests.support.graphql import GraphQLClient

STOP = """mutation($id: ID!) { stopRun(id: $id) {
  __typename ... on NotFoundError { entity id message } } }"""


async def test_an_unknown_run_is_a_run_not_found(client: GraphQLClient):
    missing = str(ObjectId())
    result = (await client.data(STOP, {"id": missing}))["stopRun"]
    assert result == {
        "__typename": "NotFoundError",
        "entity": "Run",
        "id": missing,
        "message": f"Run {missing} not found",
    }
